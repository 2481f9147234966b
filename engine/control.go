package engine

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/target"
)

// errIncompatible is pg_rewind's wording for a cluster of another major
// version; our layout errors add which version and what to do instead.
const errIncompatible = "clusters are not compatible with this version of pg_rewind"

// parseControl decodes a control file image, turning a version the engine
// has no checked layout for into pg_rewind's refusal, with the layout
// package's explanation (which names `engine: pg_rewind` as the way out).
func parseControl(b []byte, which string) (*pgcontrol.ControlFile, error) {
	cf, err := pgcontrol.Parse(b, nil)
	switch {
	case err == nil:
		return cf, nil
	case errors.Is(err, layout.ErrUnchecked), errors.Is(err, layout.ErrUnknownMajor):
		return nil, fmt.Errorf("%w: %s control file: %w", ErrIncompatible, which, err)
	default:
		return nil, fmt.Errorf("%s control file: %w", which, err)
	}
}

// readTargetControl reads the target's global/pg_control.
func (r *run) readTargetControl() error {
	path := r.targetPath(target.ControlFilePath)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("could not open file \"%s\" for reading: %w", path, err)
	}
	cf, err := parseControl(b, "target")
	if errors.Is(err, ErrIncompatible) {
		return err
	}
	if err != nil {
		// A damaged control file is fixed where it lies: say where.
		return fmt.Errorf("read %s: %w", path, err)
	}
	r.tgtCF = cf
	r.layout = cf.Layout
	return nil
}

// readSourceControl reads the source's global/pg_control and keeps its
// image for the end-of-rewind comparison.
func (r *run) readSourceControl(ctx context.Context) error {
	b, err := r.src.FetchFile(ctx, target.ControlFilePath)
	if err != nil {
		return err
	}
	cf, err := parseControl(b, "source")
	if err != nil {
		return err
	}
	r.srcCF, r.srcRaw = cf, b
	return nil
}
