package fsutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A damaged state file's error names the file, says where the JSON broke
// and what to do; one that cannot be read says so.
func TestDamagedError(t *testing.T) {
	var v map[string]any
	for _, c := range []struct{ src, want string }{
		{`{"a": 1`, "state.json is damaged: parse: unexpected end of JSON input at byte 7; restore it"},
		{`{bad`, "state.json is damaged: parse: invalid character 'b' looking for beginning of object key string at byte 2; restore it"},
		{`[1]`, "state.json is damaged: parse: json: cannot unmarshal array into Go value of type map[string]interface {} at byte 1; restore it"},
	} {
		err := json.Unmarshal([]byte(c.src), &v)
		got := (&DamagedError{Path: "state.json", Err: fmt.Errorf("parse: %w", err), Fix: "restore it"}).Error()
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.src, got, c.want)
		}
	}
	_, err := os.ReadFile(filepath.Join(t.TempDir(), "state.json", "x"))
	d := &DamagedError{Path: "state.json", Err: err, Fix: "restore it"}
	if got, want := d.Error(), "state.json cannot be read: "+err.Error()+"; restore it"; got != want {
		t.Errorf("read error:\n got %s\nwant %s", got, want)
	}
	if !errors.Is(d, os.ErrNotExist) {
		t.Error("DamagedError does not unwrap to its cause")
	}
}
