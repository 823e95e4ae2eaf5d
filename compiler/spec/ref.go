package spec

import (
	"fmt"
	"strings"
)

// Ref names a spec or a set of specs. The grammar is
//
//	IMAGE[:STREAM[-DISTRO[-VARIANT]]]
//
// where IMAGE is an image name ("nginx"), STREAM a stream name ("1.29"),
// DISTRO a distro name ("wolfi", "alpine-3.23") and VARIANT a variant name
// ("runtime", "dev"). A full ref ("nginx:1.29-wolfi-dev") names one spec; a
// shorter one names every spec it prefixes ("nginx:1.29" is every distro and
// variant of the 1.29 stream, "nginx" every spec of the image). Because
// distro names contain dashes, DISTRO and VARIANT are recognised by matching
// the known names from the schema, from the right.
type Ref struct {
	Image, Stream, Distro, Variant string
}

// ParseRef parses s against the known distro and variant names.
func ParseRef(s string, distros, variants []string) (Ref, error) {
	var r Ref
	img, rest, hasStream := strings.Cut(s, ":")
	if img == "" || strings.ContainsAny(img, " /@") {
		return r, fmt.Errorf("ref %q: want IMAGE[:STREAM[-DISTRO[-VARIANT]]], e.g. nginx:1.29-wolfi-runtime", s)
	}
	r.Image = img
	if !hasStream {
		return r, nil
	}
	if rest == "" {
		return r, fmt.Errorf("ref %q: empty stream after ':'", s)
	}
	for _, v := range variants {
		if strings.HasSuffix(rest, "-"+v) {
			head := strings.TrimSuffix(rest, "-"+v)
			for _, d := range distros {
				if strings.HasSuffix(head, "-"+d) {
					r.Stream, r.Distro, r.Variant = strings.TrimSuffix(head, "-"+d), d, v
					return r, r.check(s)
				}
			}
		}
	}
	for _, d := range distros {
		if strings.HasSuffix(rest, "-"+d) {
			r.Stream, r.Distro = strings.TrimSuffix(rest, "-"+d), d
			return r, r.check(s)
		}
	}
	r.Stream = rest
	return r, r.check(s)
}

func (r Ref) check(s string) error {
	if r.Stream == "" {
		return fmt.Errorf("ref %q: empty stream", s)
	}
	return nil
}

// Matches reports whether the spec is named by r.
func (r Ref) Matches(s *Spec) bool {
	return r.Image == s.Image &&
		(r.Stream == "" || r.Stream == s.Stream) &&
		(r.Distro == "" || r.Distro == s.Distro) &&
		(r.Variant == "" || r.Variant == s.Variant)
}

// String renders the ref in its canonical form.
func (r Ref) String() string {
	s := r.Image
	if r.Stream != "" {
		s += ":" + r.Stream
		if r.Distro != "" {
			s += "-" + r.Distro
			if r.Variant != "" {
				s += "-" + r.Variant
			}
		}
	}
	return s
}

// Select returns the specs named by any of refs, in the order of specs, and an
// error naming every ref that matched nothing.
func Select(specs []*Spec, refs []string, distros, variants []string) ([]*Spec, error) {
	var parsed []Ref
	for _, s := range refs {
		r, err := ParseRef(s, distros, variants)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, r)
	}
	var out []*Spec
	hit := make([]bool, len(parsed))
	for _, s := range specs {
		matched := false
		for i, r := range parsed {
			if r.Matches(s) {
				hit[i], matched = true, true
			}
		}
		if matched {
			out = append(out, s)
		}
	}
	var missing []string
	for i, h := range hit {
		if !h {
			missing = append(missing, refs[i])
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("no spec matches %s (see `hic list`)", strings.Join(missing, ", "))
	}
	return out, nil
}
