// Package steps holds pgrunbook's generic built-in step kinds: command,
// file, rename, conf, copy, wait and sql. Kinds returns them for the
// playbook parser.
//
// Every step follows the same contract. It first inspects the host (what is
// true now), then changes only what differs, and reports ok (Changed false),
// changed, skipped, or an error. Under Target.Check it inspects only and
// reports what it would change; under Target.Diff it reports the before and
// after of every file it changes or would change. Running a step again after
// it succeeded reports no change.
//
// All file access on the host goes through Target.Conn as Target.Become:
// files are read with cat, inspected with stat, and written by streaming the
// new content to a small sh script that writes `<path>.pgrunbook-tmp` with
// the right mode and renames it into place, so no reader ever sees a
// half-written file. Paths travel as separate argv words (sh's positional
// parameters), never spliced into a shell line, so no path needs quoting.
//
// A step in a playbook:
//
//	steps:
//	  - name: standby settings
//	    conf:
//	      path: "{{ .pgdata }}/postgresql.auto.conf"
//	      set: {primary_conninfo: "host=10.77.0.12 user=rewind", hot_standby: on}
//	      unset: [restore_command]
//
// Each kind's parameter struct is its Action; its yaml tags are the keys the
// playbook may use, and Validate checks required fields and exclusive
// choices before anything runs. Validate's errors leave out the kind's
// name, which the parser (and Run) put in front of them.
package steps
