package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/pipeline"
	"github.com/hic-build/hic/compiler/sign"
)

// Check names, in the order they are reported.
const (
	CheckImageSignature        = "image-signature"
	CheckAttestationSignatures = "attestation-signatures"
	CheckAttestationSubjects   = "attestation-subjects"
	CheckSBOM                  = "sbom"
	CheckProvenancePackages    = "provenance-packages"
	CheckProvenanceSpec        = "provenance-spec"
	CheckHardening             = "hardening"
	CheckTag                   = "tag"
	CheckRebuild               = "rebuild"
)

// Check is the outcome of one check.
type Check struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Result is the outcome of verifying one image.
type Result struct {
	Ref    string  `json:"ref"`
	Digest string  `json:"digest,omitempty"`
	Spec   string  `json:"spec,omitempty"`
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// Failed returns the names of the failed checks.
func (r *Result) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

// Options configure Verify.
type Options struct {
	// Verifier holds the public key. Required.
	Verifier *sign.Verifier
	// Compiled returns the compiled spec of a spec ref from the catalog; nil,
	// or an error, fails the provenance-spec check.
	Compiled func(ctx context.Context, specRef string) (*compile.Image, error)
	// Rebuild, if set, rebuilds the spec and returns the index digest, for
	// the rebuild check.
	Rebuild func(ctx context.Context, img compile.Image) (v1.Hash, error)
}

// platformImage is one platform manifest of the index and what is read from it.
type platformImage struct {
	platform string
	digest   v1.Hash
	arch     string // APK arch
	db       []dbPackage
	dbErr    error
}

type dbPackage struct {
	Name, Version, Arch, Checksum string
}

// statement is a verified statement and the subject it was found attached to.
type statement struct {
	attachedTo v1.Hash
	st         *attest.Statement
}

// Verify checks the image ref names in src. The error is for an image that
// cannot be found or read at all; failed checks are in the Result.
func Verify(ctx context.Context, src Source, ref string, opts Options) (*Result, error) {
	if opts.Verifier == nil {
		return nil, errors.New("verify: no public key")
	}
	t, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	res := &Result{Ref: ref, Digest: t.Digest.String(), Spec: t.SpecRef}
	add := func(name string, ok bool, format string, args ...any) {
		res.Checks = append(res.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}

	im, err := t.Index.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	var plats []*platformImage
	digests := map[v1.Hash]string{t.Digest: "index"}
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		p := &platformImage{platform: m.Platform.OS + "/" + m.Platform.Architecture, digest: m.Digest, arch: apkArch(m.Platform.Architecture)}
		if m.Platform.Variant != "" {
			p.platform += "/" + m.Platform.Variant
		}
		img, err := t.Index.Image(m.Digest)
		if err == nil {
			p.db, p.dbErr = readDB(img)
		} else {
			p.dbErr = err
		}
		plats = append(plats, p)
		digests[m.Digest] = p.platform
	}
	subjects := append([]v1.Hash{t.Digest}, platformDigests(plats)...)

	// image-signature: the index and every platform manifest carry a valid
	// signature by the key naming their digest.
	var signedRepos []string
	{
		var bad []string
		for _, h := range subjects {
			sigs, err := src.Signatures(ctx, h)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", digests[h], err))
				continue
			}
			ok := false
			for _, s := range sigs {
				if attest.VerifySignature(ctx, opts.Verifier, s, h) == nil {
					ok = true
					if h == t.Digest {
						repo, _, _ := sign.ParseSimpleSigningPayload(s.Payload)
						signedRepos = append(signedRepos, repo)
					}
				}
			}
			if !ok {
				bad = append(bad, fmt.Sprintf("%s %s: no valid signature by key %s among %d", digests[h], short(h), short16(opts.Verifier.KeyID()), len(sigs)))
			}
		}
		if len(bad) > 0 {
			add(CheckImageSignature, false, "%s", strings.Join(bad, "; "))
		} else {
			add(CheckImageSignature, true, "index %s and %d platform manifests signed by key %s", short(t.Digest), len(plats), short16(opts.Verifier.KeyID()))
		}
	}

	// attestation-signatures and attestation-subjects.
	var stmts []statement
	{
		var badSig, badSub []string
		n := 0
		for _, h := range subjects {
			envs, err := src.Attestations(ctx, h)
			if err != nil {
				badSig = append(badSig, fmt.Sprintf("%s: %v", digests[h], err))
				continue
			}
			for _, e := range envs {
				n++
				if e.Err != nil {
					badSig = append(badSig, fmt.Sprintf("%s (%s): %v", digests[h], e.Where, e.Err))
					continue
				}
				st, err := attest.Open(ctx, opts.Verifier, e.Data)
				if err != nil {
					badSig = append(badSig, fmt.Sprintf("%s (%s): %v", digests[h], e.Where, err))
					continue
				}
				sd := st.SubjectDigests()
				if !slices.Contains(sd, h) {
					badSub = append(badSub, fmt.Sprintf("%s statement attached to %s %s is about %s, not it", predicateName(st.PredicateType), digests[h], short(h), shortAll(sd)))
					continue
				}
				var foreign []v1.Hash
				for _, d := range sd {
					if _, ok := digests[d]; !ok {
						foreign = append(foreign, d)
					}
				}
				if len(foreign) > 0 {
					badSub = append(badSub, fmt.Sprintf("%s statement attached to %s %s is also about %s, not part of this image", predicateName(st.PredicateType), digests[h], short(h), shortAll(foreign)))
					continue
				}
				stmts = append(stmts, statement{attachedTo: h, st: st})
			}
		}
		switch {
		case len(badSig) > 0:
			add(CheckAttestationSignatures, false, "%d of %d: %s", len(badSig), n, strings.Join(badSig, "; "))
		case n == 0:
			add(CheckAttestationSignatures, false, "no attestations")
		default:
			add(CheckAttestationSignatures, true, "%d attestations signed by key %s", n, short16(opts.Verifier.KeyID()))
		}
		if len(badSub) > 0 {
			add(CheckAttestationSubjects, false, "%s", strings.Join(badSub, "; "))
		} else {
			add(CheckAttestationSubjects, true, "every statement is about the index or platform manifest it is attached to")
		}
	}
	of := func(h v1.Hash, pt string) []*attest.Statement {
		var out []*attest.Statement
		for _, s := range stmts {
			if s.attachedTo == h && s.st.PredicateType == pt {
				out = append(out, s.st)
			}
		}
		return out
	}

	// sbom: every platform's SPDX and CycloneDX SBOMs list exactly its apk database.
	{
		var bad []string
		for _, p := range plats {
			if p.dbErr != nil {
				bad = append(bad, fmt.Sprintf("%s: apk database: %v", p.platform, p.dbErr))
				continue
			}
			want := map[string]bool{}
			for _, q := range p.db {
				want[q.Name+"="+q.Version] = true
			}
			spdx := of(p.digest, attest.PredicateSPDX)
			if len(spdx) == 0 {
				bad = append(bad, fmt.Sprintf("%s: no signed SPDX SBOM", p.platform))
			}
			for _, st := range spdx {
				pkgs, err := inspect.SBOMPackages(st.Predicate)
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: SPDX: %v", p.platform, err))
					continue
				}
				got := map[string]bool{}
				for _, q := range pkgs {
					got[q.Name+"="+q.Version] = true
				}
				if d := diff(want, got); d != "" {
					bad = append(bad, fmt.Sprintf("%s: SPDX SBOM %s", p.platform, d))
				}
			}
			for _, st := range of(p.digest, attest.PredicateCycloneDX) {
				got, err := cyclonedxPackages(st.Predicate)
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: CycloneDX: %v", p.platform, err))
					continue
				}
				if d := diff(want, got); d != "" {
					bad = append(bad, fmt.Sprintf("%s: CycloneDX SBOM %s", p.platform, d))
				}
			}
		}
		if len(bad) > 0 {
			add(CheckSBOM, false, "%s", strings.Join(bad, "; "))
		} else {
			n := 0
			for _, p := range plats {
				n += len(p.db)
			}
			add(CheckSBOM, true, "SBOMs of %d platforms list exactly the %d installed packages", len(plats), n)
		}
	}

	// provenance-packages and provenance-spec.
	var prov *attest.ProvenancePredicate
	{
		provs := of(t.Digest, attest.PredicateSLSAProvenance)
		if len(provs) == 0 {
			add(CheckProvenancePackages, false, "no signed SLSA provenance about the index")
		} else {
			var bad []string
			for _, st := range provs {
				var p attest.ProvenancePredicate
				if err := json.Unmarshal(st.Predicate, &p); err != nil {
					bad = append(bad, err.Error())
					continue
				}
				if prov == nil {
					prov = &p
				}
				bad = append(bad, checkDeps(p, plats)...)
			}
			if len(bad) > 0 {
				add(CheckProvenancePackages, false, "%s", strings.Join(bad, "; "))
			} else {
				add(CheckProvenancePackages, true, "%d resolved dependencies match the apk databases (name, version, arch, checksum)", len(prov.BuildDefinition.ResolvedDependencies))
			}
		}
	}
	var compiled *compile.Image
	if prov == nil {
		add(CheckProvenanceSpec, false, "no readable provenance")
	} else {
		bd := prov.BuildDefinition
		specRef := bd.ExternalParameters.Spec
		res.Spec = specRef
		var bad []string
		if bd.BuildType != attest.BuildType {
			bad = append(bad, fmt.Sprintf("build type %q, want %q", bd.BuildType, attest.BuildType))
		}
		if t.SpecRef != "" && specRef != t.SpecRef {
			bad = append(bad, fmt.Sprintf("provenance is about spec %s, not %s", specRef, t.SpecRef))
		}
		if opts.Compiled == nil {
			bad = append(bad, "no catalog to compile "+specRef+" from")
		} else if img, err := opts.Compiled(ctx, specRef); err != nil {
			bad = append(bad, fmt.Sprintf("compile %s: %v", specRef, err))
		} else {
			compiled = img
			d, err := pipeline.CompiledSpecDigest(*img)
			if err != nil {
				bad = append(bad, err.Error())
			} else if d != bd.InternalParameters.CompiledSpecDigest {
				bad = append(bad, fmt.Sprintf("compiled spec digest %s, provenance says %s", d, bd.InternalParameters.CompiledSpecDigest))
			}
			name, version, _ := strings.Cut(img.Metadata.MainPackage, "=")
			found := false
			for _, rd := range bd.ResolvedDependencies {
				if n, v, _, err := parsePurl(rd.URI); err == nil && n == name && v == version {
					found = true
				}
			}
			if !found {
				bad = append(bad, fmt.Sprintf("main package %s is not among the resolved dependencies", img.Metadata.MainPackage))
			}
		}
		if len(bad) > 0 {
			add(CheckProvenanceSpec, false, "%s", strings.Join(bad, "; "))
		} else {
			add(CheckProvenanceSpec, true, "spec %s, compiled spec %s, main package %s", specRef, short(mustHash(bd.InternalParameters.CompiledSpecDigest)), compiled.Metadata.MainPackage)
		}
	}

	// hardening: the report about the index passes.
	if hs := of(t.Digest, attest.PredicateHardening); len(hs) == 0 {
		add(CheckHardening, false, "no signed hardening report about the index")
	} else {
		var bad []string
		rules := 0
		for _, st := range hs {
			var hr attest.HardeningReport
			if err := json.Unmarshal(st.Predicate, &hr); err != nil {
				bad = append(bad, err.Error())
				continue
			}
			rules = len(hr.Rules)
			var failing []string
			for _, r := range hr.Rules {
				if r.Status == attest.StatusFail {
					failing = append(failing, r.Rule)
				}
			}
			if hr.Result != attest.StatusPass || len(failing) > 0 {
				bad = append(bad, fmt.Sprintf("result %s, failing rules: %s", hr.Result, strings.Join(failing, ", ")))
			}
		}
		if len(bad) > 0 {
			add(CheckHardening, false, "%s", strings.Join(bad, "; "))
		} else {
			add(CheckHardening, true, "%d rules pass or are waived", rules)
		}
	}

	// tag: the ref names the image that was signed for it.
	{
		var bad []string
		if len(signedRepos) == 0 {
			bad = append(bad, "no valid signature names a repository for this image")
		} else if !slices.ContainsFunc(signedRepos, func(r string) bool { return sameRepo(t.Repository, r) }) {
			bad = append(bad, fmt.Sprintf("%s points at an image signed for %s", t.Repository, strings.Join(signedRepos, ", ")))
		}
		if t.Tag != "" {
			switch {
			case compiled == nil && prov == nil:
				bad = append(bad, "no provenance says which spec the image was built from")
			case compiled == nil:
				if repo, _, _ := strings.Cut(prov.BuildDefinition.ExternalParameters.Spec, ":"); !sameRepo(t.Repository, repo) {
					bad = append(bad, fmt.Sprintf("tag %s points at an image of spec %s", t.Tag, prov.BuildDefinition.ExternalParameters.Spec))
				}
			case !sameRepo(t.Repository, compiled.Repository) || !slices.Contains(compiled.Tags, t.Tag):
				bad = append(bad, fmt.Sprintf("tag %s:%s points at an image of spec %s, whose tags are %s:%s", t.Repository, t.Tag, compiled.Ref, compiled.Repository, strings.Join(compiled.Tags, ",")))
			}
		}
		if len(bad) > 0 {
			add(CheckTag, false, "%s", strings.Join(bad, "; "))
		} else if t.Tag != "" {
			add(CheckTag, true, "%s:%s is a tag of spec %s and names the image signed for it", t.Repository, t.Tag, res.Spec)
		} else {
			add(CheckTag, true, "%s names an image signed for %s", ref, t.Repository)
		}
	}

	if opts.Rebuild != nil {
		switch {
		case compiled == nil:
			add(CheckRebuild, false, "no compiled spec to rebuild")
		default:
			h, err := opts.Rebuild(ctx, *compiled)
			switch {
			case err != nil:
				add(CheckRebuild, false, "rebuild %s: %v", compiled.Ref, err)
			case h != t.Digest:
				add(CheckRebuild, false, "rebuilt %s gives %s, the image is %s", compiled.Ref, h, t.Digest)
			default:
				add(CheckRebuild, true, "rebuilding %s from the catalog gives the same index %s", compiled.Ref, short(h))
			}
		}
	}
	res.OK = len(res.Failed()) == 0
	return res, nil
}

// checkDeps compares the provenance's resolved dependencies with the apk
// databases of the platforms.
func checkDeps(p attest.ProvenancePredicate, plats []*platformImage) []string {
	type key struct{ name, version, arch string }
	deps := map[key]map[string]string{}
	var bad []string
	for _, rd := range p.BuildDefinition.ResolvedDependencies {
		n, v, a, err := parsePurl(rd.URI)
		if err != nil {
			bad = append(bad, fmt.Sprintf("dependency %q: %v", rd.URI, err))
			continue
		}
		deps[key{n, v, a}] = rd.Digest
	}
	used := map[key]bool{}
	var missing, wrongSum []string
	for _, pl := range plats {
		if pl.dbErr != nil {
			bad = append(bad, fmt.Sprintf("%s: apk database: %v", pl.platform, pl.dbErr))
			continue
		}
		for _, q := range pl.db {
			k := key{q.Name, q.Version, q.Arch}
			d, ok := deps[k]
			if !ok {
				missing = append(missing, fmt.Sprintf("%s-%s (%s)", q.Name, q.Version, q.Arch))
				continue
			}
			used[k] = true
			want, err := attest.ChecksumDigest(q.Checksum)
			if err != nil || !sameDigests(want, d) {
				wrongSum = append(wrongSum, fmt.Sprintf("%s-%s (%s)", q.Name, q.Version, q.Arch))
			}
		}
	}
	var extra []string
	for k := range deps {
		if !used[k] {
			extra = append(extra, fmt.Sprintf("%s-%s (%s)", k.name, k.version, k.arch))
		}
	}
	sort.Strings(extra)
	if len(missing) > 0 {
		bad = append(bad, "installed but not in the provenance: "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		bad = append(bad, "in the provenance but not installed: "+strings.Join(extra, ", "))
	}
	if len(wrongSum) > 0 {
		bad = append(bad, "checksum differs from the apk database: "+strings.Join(wrongSum, ", "))
	}
	return bad
}

func sameDigests(a, b map[string]string) bool {
	n := 0
	for alg, v := range a {
		if w, ok := b[alg]; ok {
			if w != v {
				return false
			}
			n++
		}
	}
	return n > 0
}

// parsePurl reads name, version and the arch qualifier of a pkg:apk purl.
func parsePurl(s string) (name, version, arch string, err error) {
	rest, ok := strings.CutPrefix(s, "pkg:apk/")
	if !ok {
		return "", "", "", errors.New("not a pkg:apk purl")
	}
	rest, query, _ := strings.Cut(rest, "?")
	rest, _, _ = strings.Cut(rest, "#")
	_, nv, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", "", errors.New("no namespace")
	}
	n, v, ok := strings.Cut(nv, "@")
	if !ok {
		return "", "", "", errors.New("no version")
	}
	if name, err = url.PathUnescape(n); err != nil {
		return "", "", "", err
	}
	if version, err = url.PathUnescape(v); err != nil {
		return "", "", "", err
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", "", err
	}
	return name, version, q.Get("arch"), nil
}

// cyclonedxPackages lists the pkg:apk components of a CycloneDX BOM as name=version.
func cyclonedxPackages(b []byte) (map[string]bool, error) {
	var bom struct {
		Components []struct {
			Purl string `json:"purl"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, c := range bom.Components {
		if !strings.HasPrefix(c.Purl, "pkg:apk/") {
			continue
		}
		n, v, _, err := parsePurl(c.Purl)
		if err != nil {
			return nil, err
		}
		out[n+"="+v] = true
	}
	return out, nil
}

// diff describes how got differs from want ("" when equal).
func diff(want, got map[string]bool) string {
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "misses installed packages "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "lists packages not installed "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, " and ")
}

// readDB reads the apk database of an image from its layers.
func readDB(img v1.Image) ([]dbPackage, error) {
	rfs, err := inspect.FromLayers(img)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"usr/lib/apk/db/installed", "lib/apk/db/installed"} {
		b, err := rfs.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return parseDB(b)
	}
	return nil, errors.New("the image has no apk database")
}

func parseDB(b []byte) ([]dbPackage, error) {
	var out []dbPackage
	var cur dbPackage
	flush := func() {
		if cur.Name != "" {
			out = append(out, cur)
		}
		cur = dbPackage{}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "P":
			cur.Name = v
		case "V":
			cur.Version = v
		case "A":
			cur.Arch = v
		case "C":
			cur.Checksum = v
		}
	}
	flush()
	return out, sc.Err()
}

// apkArch maps an OCI architecture to apk's.
func apkArch(a string) string {
	switch a {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "x86"
	case "arm":
		return "armv7"
	}
	return a
}

// sameRepo reports whether the repository of a ref (maybe
// "registry/prefix/nginx") is the catalog repository repo ("nginx").
func sameRepo(ref, repo string) bool {
	return repo != "" && (ref == repo || strings.HasSuffix(ref, "/"+repo))
}

func platformDigests(ps []*platformImage) []v1.Hash {
	var out []v1.Hash
	for _, p := range ps {
		out = append(out, p.digest)
	}
	return out
}

func predicateName(pt string) string {
	switch pt {
	case attest.PredicateSLSAProvenance:
		return "provenance"
	case attest.PredicateSPDX:
		return "SPDX"
	case attest.PredicateCycloneDX:
		return "CycloneDX"
	case attest.PredicateHardening:
		return "hardening"
	}
	return pt
}

func short(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.String()
	}
	return h.Algorithm + ":" + h.Hex[:12]
}

func short16(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

func shortAll(hs []v1.Hash) string {
	var out []string
	for _, h := range hs {
		out = append(out, short(h))
	}
	return strings.Join(out, ", ")
}

func mustHash(s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		return v1.Hash{Hex: s}
	}
	return h
}
