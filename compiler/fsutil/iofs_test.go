package fsutil

import (
	"errors"
	"io"
	"io/fs"
	"testing"
	"testing/fstest"
)

func TestUnixMode(t *testing.T) {
	for _, tt := range []struct {
		m    fs.FileMode
		want uint32
	}{
		{0o644, 0o644},
		{fs.ModeDir | 0o755, 0o755},
		{fs.ModeSetuid | 0o755, 0o4755},
		{fs.ModeSetgid | 0o755, 0o2755},
		{fs.ModeDir | fs.ModeSticky | 0o777, 0o1777},
		{fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o700, 0o7700},
		{fs.ModeSymlink | 0o777, 0o777},
	} {
		if got := UnixMode(tt.m); got != tt.want {
			t.Errorf("UnixMode(%v) = %#o, want %#o", tt.m, got, tt.want)
		}
	}
}

// TestReadDirNext pages the entries of a directory (from testing/fstest)
// as fs.ReadDirFile asks.
func TestReadDirNext(t *testing.T) {
	m := fstest.MapFS{"d/a": {}, "d/b": {}, "d/c": {}, "e/.keep": {}}
	ents, err := m.ReadDir("d")
	if err != nil {
		t.Fatal(err)
	}
	rest := ents
	var names []string
	for {
		page, err := ReadDirNext(&rest, 2)
		if errors.Is(err, io.EOF) {
			if len(page) != 0 {
				t.Errorf("io.EOF with %d entries", len(page))
			}
			break
		}
		if err != nil || len(page) == 0 || len(page) > 2 {
			t.Fatalf("page %v, %v", page, err)
		}
		for _, e := range page {
			names = append(names, e.Name())
		}
	}
	if got := len(names); got != 3 || names[0] != "a" || names[2] != "c" {
		t.Errorf("paged %v, want a b c", names)
	}
	rest = ents
	if all, err := ReadDirNext(&rest, 0); err != nil || len(all) != 3 {
		t.Errorf("n = 0: %d entries, %v; want all 3", len(all), err)
	}
	if all, err := ReadDirNext(&rest, -1); err != nil || len(all) != 0 {
		t.Errorf("n <= 0 after all were read: %d entries, %v; want none and no error", len(all), err)
	}
	if _, err := ReadDirNext(&rest, 1); !errors.Is(err, io.EOF) {
		t.Errorf("n > 0 after all were read: %v, want io.EOF", err)
	}
}
