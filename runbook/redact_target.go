package runbook

// MarkSecret registers value as a secret of the run: from now on it is
// masked in every event and message, wherever it appears. Steps call it
// for secrets the run cannot know from its variables, such as a password
// read from a file on the host. Values shorter than four bytes are
// ignored; so is every call on a Target that the executor did not make.
func (t *Target) MarkSecret(value string) {
	if t == nil || t.redactor == nil {
		return
	}
	t.redactor.AddSecret(value)
}
