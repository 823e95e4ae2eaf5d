package apkversion

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"chainguard.dev/apko/pkg/apk/apk"
	"github.com/hic-build/hic/compiler/testenv"
)

// tricky are versions at the edges of the grammar: each must parse, or
// fail, as apko's parser does, and order as apko orders them.
var tricky = []string{
	"0", "1", "01", "1.0", "1.00", "1.01", "1.1", "1.10", "1.2.3.4.5.6.7.8.9.10.11",
	"1a", "1.0a", "1.0z", "1.0A", "1.0aa", "1.0a1",
	"1.0_alpha", "1.0_alpha1", "1.0_alpha01", "1.0_beta", "1.0_beta2", "1.0_pre", "1.0_pre3", "1.0_rc", "1.0_rc10",
	"1.0_cvs", "1.0_svn1", "1.0_git20240101", "1.0_hg", "1.0_p", "1.0_p1", "1.0_p01",
	"1.0_rc1_p2", "1.0_alpha_git", "1.0a_beta1_p3-r4", "1.0_p1_rc1", "1.0_rc1_rc2", "1.0_p1_p2",
	"1.0-r0", "1.0-r1", "1.0-r01", "1.0-r10", "1.0-r", "1.0-r1-r2", "1.0r1", "1.0_r1",
	"1.0_prefix", "1.0_pre_p", "1.0_pre1_p1-r1", "1.0_foo", "1.0_", "1.0-", "1.0.", ".1", "1..0", "",
	"v1.0", "1.0 ", " 1.0", "1.0\n", "1,0", "1.0~1", "1.0+git", "1.0-r1a",
	"99999999999999999999", "1.99999999999999999999", "1.0_p99999999999999999999", "1.0-r99999999999999999999",
	"9223372036854775807", "9223372036854775808", "1.0-r9223372036854775807",
	"0.99f7-r0", "2.4.65-r0", "20260817.0-r3", "1:1.0-r0", "1.0-r0.1",
	"١.٠", "1.0é",
}

// corpus is every version in the catalog's package universes (the
// packages' versions and those their dependencies and provides name) and
// in the APK indexes apko's module ships as test data, plus tricky.
func corpus(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	add := func(v string) {
		if v != "" {
			seen[v] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "catalog", "universe", "*", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "catalog", "universe", "*.txt"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no package universe under catalog/universe")
	}
	constraint := regexp.MustCompile(`[=<>~]+([^,\s]+)`)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '@' || line[0] == '#' {
				continue
			}
			fields := strings.Fields(line)
			for _, f := range fields[1:] {
				key, val, ok := strings.Cut(f, "=")
				if !ok {
					add(f) // one of the package's versions
					continue
				}
				if key == "d" || key == "p" {
					for _, m := range constraint.FindAllStringSubmatch(val, -1) {
						add(m[1])
					}
				}
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	testdata := testenv.ApkoTestdata(t)
	indexes, err := filepath.Glob(filepath.Join(testdata, "*", "APKINDEX.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	indexes = append(indexes, filepath.Join(testdata, "APKINDEX.tar.gz"))
	for _, f := range indexes {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := apk.IndexFromArchive(fh)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range idx.Packages {
			add(p.Version)
			for _, d := range append(slices.Clone(p.Dependencies), p.Provides...) {
				for _, m := range constraint.FindAllStringSubmatch(d, -1) {
					add(m[1])
				}
			}
		}
	}
	for _, v := range tricky {
		seen[v] = true
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// TestParseAgreesWithApko: every version of the corpus parses, or fails to,
// as apko's parser does.
func TestParseAgreesWithApko(t *testing.T) {
	vs := corpus(t)
	bad := 0
	for _, s := range vs {
		_, err := Parse(s)
		_, apkoErr := apk.ParseVersion(s)
		if (err == nil) != (apkoErr == nil) {
			t.Errorf("Parse(%q): error %v, apko's: %v", s, err, apkoErr)
		}
		if err != nil {
			bad++
		}
	}
	if len(vs) < 5000 {
		t.Errorf("corpus has %d versions, want the universes' and apko's indexes' (over 5,000)", len(vs))
	}
	t.Logf("%d versions, %d unparsable", len(vs), bad)
}

// TestCompareAgreesWithApko sorts the corpus in apko's order and wants
// Compare to agree on every neighbouring pair (so, both being orders, on
// every pair), on every pair of versions of one package, and on random
// pairs.
func TestCompareAgreesWithApko(t *testing.T) {
	type pv struct {
		s    string
		mine Version
		apko apk.Version
	}
	var ps []pv
	for _, s := range corpus(t) {
		a, err := apk.ParseVersion(s)
		if err != nil {
			continue
		}
		m, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v; apko parses it", s, err)
		}
		ps = append(ps, pv{s, m, a})
	}
	check := func(a, b pv) {
		if got, want := Compare(a.mine, b.mine), apk.CompareVersions(a.apko, b.apko); got != want {
			t.Errorf("Compare(%q, %q) = %d, apko's = %d", a.s, b.s, got, want)
		}
	}
	slices.SortStableFunc(ps, func(a, b pv) int { return apk.CompareVersions(a.apko, b.apko) })
	for i := 1; i < len(ps); i++ {
		check(ps[i-1], ps[i])
		check(ps[i], ps[i-1])
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(ps[r.IntN(len(ps))], ps[r.IntN(len(ps))])
	}
	// The tricky versions against each other.
	var tr []pv
	for _, p := range ps {
		if slices.Contains(tricky, p.s) {
			tr = append(tr, p)
		}
	}
	for _, a := range tr {
		for _, b := range tr {
			check(a, b)
		}
	}
}

func TestCompare(t *testing.T) {
	// Ascending, each strictly older than the next.
	order := []string{
		"0.9", "1.0_alpha", "1.0_alpha2", "1.0_beta", "1.0_pre1", "1.0_rc1", "1.0_rc1_p1", "1.0", "1.0-r1", "1.0_cvs",
		"1.0_svn", "1.0_git1", "1.0_hg", "1.0_p", "1.0_p1", "1.0_p1-r3", "1.0a", "1.0b_alpha", "1.0.0", "1.1", "1.2", "1.10",
	}
	for i := range order {
		for j := range order {
			a, err := Parse(order[i])
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(order[j])
			if err != nil {
				t.Fatal(err)
			}
			want := cmpInt(i, j)
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	a, _ := Parse("1.01-r01")
	b, _ := Parse("1.1-r1")
	if Compare(a, b) != 0 {
		t.Error("1.01-r01 and 1.1-r1 differ; numbers compare by value")
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "v1", "1.", "1.0-r", "1.0_foo", "1.0 ", "99999999999999999999"} {
		_, err := Parse(s)
		if err == nil {
			t.Errorf("Parse(%q) accepted it", s)
			continue
		}
		if !strings.Contains(err.Error(), `"`+s+`"`) {
			t.Errorf("Parse(%q): %v does not name the version", s, err)
		}
	}
}

// FuzzParseCompare wants Parse to fail exactly where apko's parser does,
// and Compare to agree with apko's on what both parse.
func FuzzParseCompare(f *testing.F) {
	for i, s := range tricky {
		f.Add(s, tricky[(i+7)%len(tricky)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ma, errA := Parse(a)
		aa, apkoErrA := apk.ParseVersion(a)
		if (errA == nil) != (apkoErrA == nil) {
			t.Fatalf("Parse(%q): error %v, apko's: %v", a, errA, apkoErrA)
		}
		mb, errB := Parse(b)
		ab, apkoErrB := apk.ParseVersion(b)
		if (errB == nil) != (apkoErrB == nil) {
			t.Fatalf("Parse(%q): error %v, apko's: %v", b, errB, apkoErrB)
		}
		if errA == nil && errB == nil {
			if got, want := Compare(ma, mb), apk.CompareVersions(aa, ab); got != want {
				t.Fatalf("Compare(%q, %q) = %d, apko's = %d", a, b, got, want)
			}
		}
	})
}
