package fsutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
)

// DamagedError is a state file hic reads back and does not rebuild (a
// spec's previous lock, report.json, a layout's index.json) that exists
// but cannot be read or parsed. Such a file is not dropped or overwritten
// unsaid: what it records (the versions no-rollback compares with, the
// specs whose last build failed, the layout's tags) exists nowhere else.
type DamagedError struct {
	// Path is the file.
	Path string
	// Err is why it cannot be used: the read error, or the parse error.
	Err error
	// Fix says what the file records and how to recover ("restore it
	// ..., or remove it to ...").
	Fix string
}

func (e *DamagedError) Error() string {
	var pe *fs.PathError
	if errors.As(e.Err, &pe) {
		return fmt.Sprintf("%s cannot be read: %v; %s", e.Path, e.Err, e.Fix)
	}
	return fmt.Sprintf("%s is damaged: %s; %s", e.Path, jsonWhere(e.Err), e.Fix)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// jsonWhere is err's text, with the byte offset of a JSON syntax or type
// error in it ("unexpected end of JSON input at byte 50").
func jsonWhere(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", err, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%v at byte %d", err, te.Offset)
	}
	return err.Error()
}
