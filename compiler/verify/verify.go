package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/vex"
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
	// Problems are the failures of a failed check, one per cause (Detail
	// joins them); the same problem on several platforms is one entry.
	Problems []string `json:"problems,omitempty"`
}

// Result is the outcome of verifying one image.
type Result struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest,omitempty"`
	// Spec is the spec the provenance names, else the one the image claims
	// (the spec ref asked for, or its annotation).
	Spec string `json:"spec,omitempty"`
	OK   bool   `json:"ok"`
	// Unsigned says the image carries no signature and no attestation at
	// all (as hic build --unsigned makes it): the checks that need them
	// fail for that one reason.
	Unsigned bool    `json:"unsigned,omitempty"`
	Checks   []Check `json:"checks"`
	// Signer is the key the signatures verified with; nil when none did.
	Signer *Signer `json:"signer,omitempty"`
	// Waived are the rules the signed hardening report waives, with the
	// exceptions' reasons.
	Waived []Waiver `json:"waived,omitempty"`
	// Synthetic says the signed hardening report records the image as
	// built from a generated mirror (hic mirror): its packages have
	// synthetic contents, so it is no real image of its distro, however
	// well it verifies.
	Synthetic bool `json:"synthetic,omitempty"`
	// Packages are the installed packages (Options.Packages).
	Packages []Package `json:"packages,omitempty"`
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
	// Advisories, if set, returns the catalog's advisories: the vex check
	// then also requires the OpenVEX documents to state exactly those about
	// the installed packages, each as the build states it.
	Advisories func(ctx context.Context) (*vex.Advisories, error)
	// Packages lists the installed packages in Result.Packages.
	Packages bool
}

// platformImage is one platform manifest of the index and what is read from it.
type platformImage struct {
	platform string
	digest   v1.Hash
	arch     string // APK arch
	img      v1.Image
	fs       inspect.FS // the flattened layers; nil when unreadable (dbErr)
	db       []inspect.InstalledPackage
	dbErr    error
}

// statement is a verified statement, the subject it was found attached to
// and where (Envelope.Where: "referrer sha256:…", ".att tag").
type statement struct {
	attachedTo v1.Hash
	st         *attest.Statement
	where      string
}

// Verify checks the image ref names in src. The error is for an image that
// cannot be found or read at all; failed checks are in the Result. The checks
// run in the order of verification.checks (checks.go), one function each.
func Verify(ctx context.Context, src Source, ref string, opts Options) (*Result, error) {
	if opts.Verifier == nil {
		return nil, errors.New("verify: no public key")
	}
	t, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	// The spec the image claims, until the provenance says which it is.
	v := &verification{src: src, opts: opts, ref: ref, t: t, res: &Result{Ref: ref, Digest: t.Digest.String(), Spec: claimedSpec(t)}}
	if t.damaged != nil {
		// The index blob does not match its digest: nothing in it is read.
		// The blobs check names it (and every other blob that does not
		// match, of the referrers the layout lists for the index).
		v.subjects = []v1.Hash{t.Digest}
		c := v.blobs(ctx)
		if c.OK {
			c = fail(CheckBlobs, "%v", t.damaged)
		}
		v.res.Checks = []Check{c}
		return v.res, nil
	}
	if err := v.readPlatforms(); err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	for _, check := range v.checks() {
		v.res.Checks = append(v.res.Checks, check(ctx))
	}
	v.summarize()
	v.res.Unsigned = v.unsigned
	v.res.OK = len(v.res.Failed()) == 0
	return v.res, nil
}

// readPlatforms reads the index's platform manifests and their apk databases.
func (v *verification) readPlatforms() error {
	im, err := v.t.Index.IndexManifest()
	if err != nil {
		return err
	}
	v.digests = map[v1.Hash]string{v.t.Digest: "index"}
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		p := &platformImage{platform: m.Platform.OS + "/" + m.Platform.Architecture, digest: m.Digest, arch: apkArch(m.Platform.Architecture)}
		if m.Platform.Variant != "" {
			p.platform += "/" + m.Platform.Variant
		}
		img, err := v.t.Index.Image(m.Digest)
		if err == nil {
			p.img = img
			p.fs, p.db, p.dbErr = readDB(img)
		} else {
			p.dbErr = err
		}
		v.plats = append(v.plats, p)
		v.digests[m.Digest] = p.platform
	}
	v.subjects = append([]v1.Hash{v.t.Digest}, platformDigests(v.plats)...)
	return nil
}

// claimedSpec is the spec ref the target claims to be built from: the spec
// ref asked for, its layout entry's annotation (a rejected image's too), or
// the index's annotation.
func claimedSpec(t *Target) string {
	if t.SpecRef != "" {
		return t.SpecRef
	}
	if t.entrySpec != "" {
		return t.entrySpec
	}
	if t.rejectedSpec != "" {
		return t.rejectedSpec
	}
	if t.Index == nil {
		return ""
	}
	if im, err := t.Index.IndexManifest(); err == nil {
		return im.Annotations["dev.hic.spec.ref"]
	}
	return ""
}

// checkDeps compares the provenance's resolved dependencies with the apk
// databases of the platforms: each installed package must be listed, with
// the apk database's checksum as its apkChecksum annotation (a provenance
// of hic before that annotation carried the checksum as its digest).
func checkDeps(p attest.ProvenancePredicate, plats []*platformImage) []string {
	type key struct{ name, version, arch string }
	deps := map[key]attest.ResourceDescriptor{}
	var bad []string
	for _, rd := range p.BuildDefinition.ResolvedDependencies {
		n, v, a, err := parsePurl(rd.URI)
		if err != nil {
			bad = append(bad, fmt.Sprintf("dependency %q: %v", rd.URI, err))
			continue
		}
		deps[key{n, v, a}] = rd
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
			if c, ok := d.Annotations[attest.AnnotationAPKChecksum]; ok {
				if c != q.Checksum {
					wrongSum = append(wrongSum, fmt.Sprintf("%s-%s (%s)", q.Name, q.Version, q.Arch))
				}
				continue
			}
			want, err := attest.ChecksumDigest(q.Checksum)
			if err != nil || !sameDigests(want, d.Digest) {
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
			Name string `json:"name"`
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
		// An apk purl's name is lower case (R is pkg:apk/wolfi/r); the
		// component's name is the package's.
		if c.Name != n && strings.EqualFold(c.Name, n) {
			n = c.Name
		}
		out[n+"="+v] = true
	}
	return out, nil
}

// diff describes how got differs from want ("" when equal).
func diff(want, got map[string]bool) string {
	missing, extra := missingExtra(want, got)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "misses installed packages "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "lists packages not installed "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, " and ")
}

// missingExtra returns, sorted, the keys of want not in got and the keys of
// got not in want.
func missingExtra(want, got map[string]bool) (missing, extra []string) {
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
	return missing, extra
}

// readDB flattens an image's layers and reads its apk database.
func readDB(img v1.Image) (inspect.FS, []inspect.InstalledPackage, error) {
	rfs, err := inspect.FromLayers(img)
	if err != nil {
		return nil, nil, err
	}
	db, found, err := inspect.ReadInstalled(rfs)
	if err == nil && !found {
		err = errors.New("the image has no apk database")
	}
	return rfs, db, err
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
// sameRepo reports whether two repository names name the same repository,
// one of them perhaps with fewer leading path elements: "hic/nginx" and
// "nginx" (the catalog's name), or "127.0.0.1:5000/hic/nginx" (the name a
// signature made at publish time carries) and "hic/nginx".
func sameRepo(ref, repo string) bool {
	return repo != "" && ref != "" && (ref == repo || strings.HasSuffix(ref, "/"+repo) || strings.HasSuffix(repo, "/"+ref))
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
