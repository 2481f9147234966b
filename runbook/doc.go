// Package runbook is the playbook and inventory model and the executor that
// runs a playbook's steps on a fleet of hosts.
//
// A playbook names an inventory pattern and an ordered list of steps; each
// step is one kind (command, pg_stop, rewind, ...) plus common options
// (when, register, retries, ...). Parsing is strict: an unknown key, a step
// with two kinds or a missing variable is an error with file:line:col and the
// step's name, reported for the whole playbook before any host is contacted.
package runbook
