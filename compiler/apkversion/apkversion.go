package apkversion

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed APK version:
//
//	NUMBER{.NUMBER}[LETTER][_alpha|_beta|_pre|_rc[N]][_cvs|_svn|_git|_hg|_p[N]][-rN]
//
// with NUMBER decimal digits and LETTER one of a-z. Its zero value is not a
// version; get one from Parse.
type Version struct {
	numbers  []int
	letter   byte
	pre      int // index in preSuffixes + 1; 0: none
	preNum   int
	post     int // index in postSuffixes + 1; 0: none
	postNum  int
	revision int
}

// The suffixes in ascending order. A pre-release suffix sorts below no
// suffix; a post-release suffix above it.
var (
	preSuffixes  = []string{"_alpha", "_beta", "_pre", "_rc"}
	postSuffixes = []string{"_cvs", "_svn", "_git", "_hg", "_p"}
)

// Parse parses an APK version. Anything outside the grammar of Version is
// an error, and so is a number too large for an int.
func Parse(s string) (Version, error) {
	var v Version
	rest := s
	fail := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("version %q is not an APK version (NUMBER{.NUMBER}[a-z][_alpha|_beta|_pre|_rc[N]][_cvs|_svn|_git|_hg|_p[N]][-rN]): %s", s, why)
	}
	n, rest, err := digits(rest, false)
	if err != nil {
		return fail(err.Error())
	}
	v.numbers = append(v.numbers, n)
	for strings.HasPrefix(rest, ".") {
		if n, rest, err = digits(rest[1:], false); err != nil {
			return fail(err.Error())
		}
		v.numbers = append(v.numbers, n)
	}
	if rest != "" && rest[0] >= 'a' && rest[0] <= 'z' {
		v.letter, rest = rest[0], rest[1:]
	}
	if i, r, ok := suffix(rest, preSuffixes); ok {
		v.pre = i + 1
		if v.preNum, rest, err = digits(r, true); err != nil {
			return fail(err.Error())
		}
	}
	if i, r, ok := suffix(rest, postSuffixes); ok {
		v.post = i + 1
		if v.postNum, rest, err = digits(r, true); err != nil {
			return fail(err.Error())
		}
	}
	if strings.HasPrefix(rest, "-r") {
		if v.revision, rest, err = digits(rest[2:], false); err != nil {
			return fail(err.Error())
		}
	}
	if rest != "" {
		return fail(fmt.Sprintf("unexpected %q", rest))
	}
	return v, nil
}

// digits reads the leading decimal digits of s: at least one unless
// optional (then none is 0).
func digits(s string, optional bool) (int, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		if optional {
			return 0, s, nil
		}
		if s == "" {
			return 0, s, fmt.Errorf("a number is missing at the end")
		}
		return 0, s, fmt.Errorf("want a number at %q", s)
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, s, fmt.Errorf("number %s is too large", s[:i])
	}
	return n, s[i:], nil
}

// suffix reports which of names s starts with, and the rest.
func suffix(s string, names []string) (int, string, bool) {
	for i, n := range names {
		if strings.HasPrefix(s, n) {
			return i, s[len(n):], true
		}
	}
	return 0, s, false
}

// Compare orders a and b: -1 if a is older, 1 if newer, 0 if they are the
// same version (1.01 is 1.1). It compares the numbers one by one (a version
// with more of them is newer when the shared ones are equal), then the
// letter, the pre-release suffix (none is newest) and its number, the
// post-release suffix (none is oldest) and its number, then the revision.
func Compare(a, b Version) int {
	for i := 0; i < len(a.numbers) && i < len(b.numbers); i++ {
		if c := cmpInt(a.numbers[i], b.numbers[i]); c != 0 {
			return c
		}
	}
	if c := cmpInt(len(a.numbers), len(b.numbers)); c != 0 {
		return c
	}
	if c := cmpInt(int(a.letter), int(b.letter)); c != 0 {
		return c
	}
	if c := cmpInt(preRank(a.pre), preRank(b.pre)); c != 0 {
		return c
	}
	for _, c := range []int{cmpInt(a.preNum, b.preNum), cmpInt(a.post, b.post), cmpInt(a.postNum, b.postNum), cmpInt(a.revision, b.revision)} {
		if c != 0 {
			return c
		}
	}
	return 0
}

// preRank puts no pre-release suffix above every pre-release suffix.
func preRank(pre int) int {
	if pre == 0 {
		return len(preSuffixes) + 1
	}
	return pre
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
