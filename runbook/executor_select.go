package runbook

import (
	"fmt"
	"slices"
	"strings"
)

// Special tags, with Ansible's meaning: a step tagged "always" runs
// whatever --tags says (but --skip-tags always skips it); a step tagged
// "never" runs only when --tags names one of its tags. In --tags and
// --skip-tags, "all" means every step, "tagged" every step with a tag and
// "untagged" every step without one.
const (
	TagAlways   = "always"
	TagNever    = "never"
	TagAll      = "all"
	TagTagged   = "tagged"
	TagUntagged = "untagged"
)

// SelectSteps returns the steps a run executes: from the step named
// startAt (all when empty), those that tags selects and skipTags does not
// skip. A startAt that names no step is an error, so that a typo does not
// silently run the whole playbook.
func SelectSteps(steps []*Step, tags, skipTags []string, startAt string) ([]*Step, error) {
	if startAt != "" {
		i := slices.IndexFunc(steps, func(s *Step) bool { return s.Name == startAt })
		if i < 0 {
			names := make([]string, len(steps))
			for j, s := range steps {
				names[j] = fmt.Sprintf("%q", s.Name)
			}
			return nil, fmt.Errorf("start at step %q: no such step (steps: %s)", startAt, strings.Join(names, ", "))
		}
		steps = steps[i:]
	}
	var out []*Step
	for _, s := range steps {
		if stepSelected(s.Tags, tags, skipTags) {
			out = append(out, s)
		}
	}
	return out, nil
}

// stepSelected applies --tags and --skip-tags to one step's tags.
func stepSelected(stepTags, tags, skipTags []string) bool {
	if tagsMatch(stepTags, skipTags) {
		return false
	}
	never := slices.Contains(stepTags, TagNever)
	if len(tags) == 0 {
		return !never
	}
	if never {
		for _, t := range tags {
			if t == TagNever || (!isSpecialTag(t) && slices.Contains(stepTags, t)) {
				return true
			}
		}
		return false
	}
	return slices.Contains(stepTags, TagAlways) || tagsMatch(stepTags, tags)
}

// tagsMatch reports whether any entry of list selects a step with stepTags.
func tagsMatch(stepTags, list []string) bool {
	for _, t := range list {
		switch t {
		case TagAll:
			return true
		case TagTagged:
			if len(stepTags) > 0 {
				return true
			}
		case TagUntagged:
			if len(stepTags) == 0 {
				return true
			}
		default:
			if slices.Contains(stepTags, t) {
				return true
			}
		}
	}
	return false
}

func isSpecialTag(t string) bool {
	return t == TagAll || t == TagTagged || t == TagUntagged
}
