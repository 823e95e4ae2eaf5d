package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/sign"
)

// verification is what the checks of one image share: the image, its
// platforms, and what earlier checks established (each field says which
// check sets it). A check is a method returning one Check; to add one,
// write the method and list it in checks.
type verification struct {
	src  Source
	opts Options
	ref  string
	t    *Target
	res  *Result

	plats    []*platformImage
	digests  map[v1.Hash]string // subject digest -> "index" or its platform
	subjects []v1.Hash          // the index, then every platform manifest

	signedRepos []string                    // imageSignature: repositories the index's valid signatures name
	unsigned    bool                        // imageSignature: no signature and no attestation at all
	wrongKey    bool                        // attestationSignatures: no envelope verifies with the key
	opened      []statement                 // attestationSignatures: every envelope that verified
	stmts       []statement                 // attestationSubjects: the opened statements about this image
	prov        *attest.ProvenancePredicate // provenancePackages: the first readable provenance
	compiled    *compile.Image              // provenanceSpec: the spec compiled from the catalog

	envs map[v1.Hash]stored // the attestations read for each subject (attestations)
}

// stored is what Source.Attestations returned for a subject.
type stored struct {
	envs []Envelope
	err  error
}

// attestations returns the envelopes stored for subject h, read once: both
// imageSignature and attestationSignatures ask (the checks run one at a time).
func (v *verification) attestations(ctx context.Context, h v1.Hash) ([]Envelope, error) {
	if s, ok := v.envs[h]; ok {
		return s.envs, s.err
	}
	envs, err := v.src.Attestations(ctx, h)
	if v.envs == nil {
		v.envs = map[v1.Hash]stored{}
	}
	v.envs[h] = stored{envs, err}
	return envs, err
}

// noAttestations reports whether no subject has any attestation stored
// (false when one cannot be read: it is not known to have none).
func (v *verification) noAttestations(ctx context.Context) bool {
	for _, h := range v.subjects {
		if envs, err := v.attestations(ctx, h); err != nil || len(envs) > 0 {
			return false
		}
	}
	return true
}

// checks lists the checks in the order they run and are reported.
func (v *verification) checks() []func(context.Context) Check {
	cs := []func(context.Context) Check{
		v.blobs,
		v.imageSignature,
		v.attestationSignatures,
		v.attestationSubjects,
		v.sbom,
		v.provenancePackages,
		v.provenanceSpec,
		v.config,
		v.filesystem,
		v.hardening,
		v.vexDocument,
		v.tag,
	}
	if v.opts.Rebuild != nil {
		cs = append(cs, v.rebuild)
	}
	return cs
}

func pass(name, format string, args ...any) Check {
	return Check{Name: name, OK: true, Detail: fmt.Sprintf(format, args...)}
}

func fail(name, format string, args ...any) Check {
	return Check{Name: name, OK: false, Detail: fmt.Sprintf(format, args...)}
}

// notChecked is the failed check of one that reads statements when there
// is none to read for one cause: the image is unsigned, or no attestation
// verified with the key. The cause is not the SBOM or the provenance, and
// the check says so instead of reporting them missing.
func (v *verification) notChecked(name string) (Check, bool) {
	switch {
	case v.unsigned:
		return fail(name, "not checked: the image is unsigned (see image-signature)"), true
	case v.wrongKey:
		return fail(name, "not checked: no attestation is signed by key %s (see attestation-signatures)", short16(v.opts.Verifier.KeyID())), true
	}
	return Check{}, false
}

// indexStatements returns the signed statements of predicate type pt about
// the index for check name, or ok false and the check's failure: when the
// image is unsigned or the key verified no attestation (see notChecked), or
// when there is none
// ("no signed WHAT about the index").
func (v *verification) indexStatements(name, pt, what string) (sts []*attest.Statement, failed Check, ok bool) {
	if c, rejected := v.notChecked(name); rejected {
		return nil, c, false
	}
	sts = v.statements(v.t.Digest, pt)
	if len(sts) == 0 {
		return nil, fail(name, "no signed %s about the index", what), false
	}
	return sts, Check{}, true
}

// failures is a failed check listing bad, the same problem in several
// places said once (see group), or pass when bad is empty.
func failures(name string, bad []string, ok func() Check) Check {
	if len(bad) > 0 {
		problems := group(bad)
		return Check{Name: name, Detail: strings.Join(problems, "; "), Problems: problems}
	}
	return ok()
}

// imageSignature: the index and every platform manifest carry a valid
// signature by the key naming their digest.
func (v *verification) imageSignature(ctx context.Context) Check {
	var bad []string
	unsigned, none := 0, 0
	for _, h := range v.subjects {
		sigs, err := v.src.Signatures(ctx, h)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", v.digests[h], err))
			continue
		}
		if len(sigs) == 0 {
			none++
		}
		ok := false
		for _, s := range sigs {
			if attest.VerifySignature(ctx, v.opts.Verifier, s, h) == nil {
				ok = true
				if h == v.t.Digest {
					repo, _, _ := sign.ParseSimpleSigningPayload(s.Payload)
					if !slices.Contains(v.signedRepos, repo) {
						v.signedRepos = append(v.signedRepos, repo)
					}
				}
			}
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s %s: no valid signature by key %s among %d", v.digests[h], short(h), short16(v.opts.Verifier.KeyID()), len(sigs)))
			unsigned++
		}
	}
	if none == len(v.subjects) {
		// Not a wrong key: there is no signature to check.
		if !v.noAttestations(ctx) {
			return fail(CheckImageSignature, "%s any signature, though the image has attestations", carryNone(len(v.plats)))
		}
		v.unsigned = true
		return fail(CheckImageSignature, "the image is unsigned: %s any signature, and it has no attestations%s", carryNone(len(v.plats)), unsignedWhy(v.src, v.t))
	}
	if unsigned == len(v.subjects) && unsigned > 1 {
		// One cause for all: say it once.
		return fail(CheckImageSignature, "neither the index nor its %d platform manifests carry a signature by key %s: is --key the public key these images were signed with?", len(v.plats), short16(v.opts.Verifier.KeyID()))
	}
	return failures(CheckImageSignature, bad, func() Check {
		return pass(CheckImageSignature, "index %s and %d platform manifests signed by key %s", short(v.t.Digest), len(v.plats), short16(v.opts.Verifier.KeyID()))
	})
}

// carryNone is "neither the index nor its N platform manifests carry" (or
// "the index does not carry", for an index of no platform manifest).
func carryNone(plats int) string {
	switch plats {
	case 0:
		return "the index does not carry"
	case 1:
		return "neither the index nor its platform manifest carry"
	}
	return fmt.Sprintf("neither the index nor its %d platform manifests carry", plats)
}

// attestationSignatures: every attestation's DSSE envelope verifies with the key.
func (v *verification) attestationSignatures(ctx context.Context) Check {
	var bad []string
	n, wrongKey := 0, 0
	var wrongOn []string // where envelopes do not verify with the key
	for _, h := range v.subjects {
		envs, err := v.attestations(ctx, h)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", v.digests[h], err))
			continue
		}
		for _, e := range envs {
			n++
			if e.Err != nil {
				bad = append(bad, fmt.Sprintf("%s (%s): %v", v.digests[h], e.Where, e.Err))
				continue
			}
			st, err := attest.Open(ctx, v.opts.Verifier, e.Data)
			if errors.Is(err, sign.ErrBadSignature) {
				// The same cause on every envelope: one line for all.
				wrongKey++
				if !slices.Contains(wrongOn, v.digests[h]) {
					wrongOn = append(wrongOn, v.digests[h])
				}
				continue
			}
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s (%s): %v", v.digests[h], e.Where, err))
				continue
			}
			v.opened = append(v.opened, statement{attachedTo: h, st: st, where: e.Where})
		}
	}
	v.wrongKey = n > 0 && wrongKey == n
	if wrongKey > 0 {
		msg := fmt.Sprintf("%d of %d envelopes (%s) are not signed by key %s", wrongKey, n, strings.Join(wrongOn, ", "), short16(v.opts.Verifier.KeyID()))
		if wrongKey == n {
			msg = fmt.Sprintf("none of the %d attestations is signed by key %s: is --key the public key these images were signed with?", n, short16(v.opts.Verifier.KeyID()))
		}
		bad = append([]string{msg}, bad...)
	}
	switch {
	case len(bad) > 0:
		return failures(CheckAttestationSignatures, bad, nil)
	case v.unsigned:
		return fail(CheckAttestationSignatures, "no attestations: the image is unsigned (see image-signature)")
	case n == 0:
		return fail(CheckAttestationSignatures, "no attestations")
	}
	return pass(CheckAttestationSignatures, "%d attestations signed by key %s", n, short16(v.opts.Verifier.KeyID()))
}

// attestationSubjects: every verified statement is about the image it is
// attached to, and about nothing outside this image.
func (v *verification) attestationSubjects(context.Context) Check {
	if c, ok := v.notChecked(CheckAttestationSubjects); ok {
		return c
	}
	if len(v.opened) == 0 {
		// Never a pass about no statement at all.
		return fail(CheckAttestationSubjects, "no verified statement to check (see attestation-signatures)")
	}
	var bad []string
	for _, s := range v.opened {
		h, st := s.attachedTo, s.st
		sd := st.SubjectDigests()
		if !slices.Contains(sd, h) {
			bad = append(bad, fmt.Sprintf("%s statement attached to %s %s is about %s, not it", predicateName(st.PredicateType), v.digests[h], short(h), shortAll(sd)))
			continue
		}
		var foreign []v1.Hash
		for _, d := range sd {
			if _, ok := v.digests[d]; !ok {
				foreign = append(foreign, d)
			}
		}
		if len(foreign) > 0 {
			bad = append(bad, fmt.Sprintf("%s statement attached to %s %s is also about %s, not part of this image", predicateName(st.PredicateType), v.digests[h], short(h), shortAll(foreign)))
			continue
		}
		v.stmts = append(v.stmts, s)
	}
	return failures(CheckAttestationSubjects, bad, func() Check {
		return pass(CheckAttestationSubjects, "every statement is about the index or platform manifest it is attached to")
	})
}

// statements returns the statements of predicate type pt attached to h.
func (v *verification) statements(h v1.Hash, pt string) []*attest.Statement {
	var out []*attest.Statement
	for _, s := range v.stmts {
		if s.attachedTo == h && s.st.PredicateType == pt {
			out = append(out, s.st)
		}
	}
	return out
}

// sbom: every platform's SPDX and CycloneDX SBOMs list exactly its apk database.
func (v *verification) sbom(context.Context) Check {
	if c, ok := v.notChecked(CheckSBOM); ok {
		return c
	}
	var bad []string
	for _, p := range v.plats {
		if p.dbErr != nil {
			bad = append(bad, fmt.Sprintf("%s: apk database: %v", p.platform, p.dbErr))
			continue
		}
		want := map[string]bool{}
		for _, q := range p.db {
			want[q.Name+"="+q.Version] = true
		}
		spdx := v.statements(p.digest, attest.PredicateSPDX)
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
		cdx := v.statements(p.digest, attest.PredicateCycloneDX)
		if len(cdx) == 0 {
			bad = append(bad, fmt.Sprintf("%s: no signed CycloneDX SBOM", p.platform))
		}
		for _, st := range cdx {
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
	return failures(CheckSBOM, bad, func() Check {
		n := 0
		for _, p := range v.plats {
			n += len(p.db)
		}
		return pass(CheckSBOM, "SBOMs of %d platforms list exactly the %d installed packages", len(v.plats), n)
	})
}

// provenancePackages: the SLSA provenance's resolvedDependencies are exactly
// the installed packages, with their checksums.
func (v *verification) provenancePackages(context.Context) Check {
	provs, c, ok := v.indexStatements(CheckProvenancePackages, attest.PredicateSLSAProvenance, "SLSA provenance")
	if !ok {
		return c
	}
	var bad []string
	for _, st := range provs {
		var p attest.ProvenancePredicate
		if err := json.Unmarshal(st.Predicate, &p); err != nil {
			bad = append(bad, err.Error())
			continue
		}
		if v.prov == nil {
			v.prov = &p
		}
		bad = append(bad, checkDeps(p, v.plats)...)
	}
	return failures(CheckProvenancePackages, bad, func() Check {
		return pass(CheckProvenancePackages, "%d resolved dependencies match the apk databases (name, version, arch, checksum)", len(v.prov.BuildDefinition.ResolvedDependencies))
	})
}

// provenanceSpec: the provenance names the spec, the digest of the spec
// compiled from the catalog equals compiledSpecDigest, the pinned main
// package is among the dependencies, and the digest of the catalog's
// advisories about the installed packages equals advisoriesDigest.
func (v *verification) provenanceSpec(ctx context.Context) Check {
	if c, ok := v.notChecked(CheckProvenanceSpec); ok {
		return c
	}
	if v.prov == nil {
		return fail(CheckProvenanceSpec, "no readable provenance")
	}
	bd := v.prov.BuildDefinition
	specRef := bd.ExternalParameters.Spec
	v.res.Spec = specRef
	var bad []string
	if bd.BuildType != attest.BuildType {
		bad = append(bad, fmt.Sprintf("build type %q, want %q", bd.BuildType, attest.BuildType))
	}
	if v.t.SpecRef != "" && specRef != v.t.SpecRef {
		bad = append(bad, fmt.Sprintf("provenance is about spec %s, not %s", specRef, v.t.SpecRef))
	}
	if v.opts.Compiled == nil {
		bad = append(bad, "no catalog to compile "+specRef+" from")
	} else if img, err := v.opts.Compiled(ctx, specRef); err != nil {
		bad = append(bad, fmt.Sprintf("compile %s: %v", specRef, err))
	} else {
		v.compiled = img
		d, err := compile.Digest(*img)
		if err != nil {
			bad = append(bad, err.Error())
		} else if d != bd.InternalParameters.CompiledSpecDigest {
			bad = append(bad, fmt.Sprintf("compiled spec digest %s, provenance says %s: %s", d, bd.InternalParameters.CompiledSpecDigest, otherCatalog(bd.ExternalParameters.Catalog)))
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
	bad = append(bad, v.advisoriesDigest(ctx, bd.ExternalParameters.Catalog.AdvisoriesDigest)...)
	return failures(CheckProvenanceSpec, bad, func() Check {
		return pass(CheckProvenanceSpec, "spec %s, compiled spec %s, main package %s", specRef, short(mustHash(bd.InternalParameters.CompiledSpecDigest)), v.compiled.Metadata.MainPackage)
	})
}

// otherCatalog is the way out of a compiled spec the catalog no longer
// has: the image was built from another version of it (an older tag after
// a bump, or a change since), which the provenance names.
func otherCatalog(c attest.CatalogSource) string {
	if c.GitCommit != "" {
		return fmt.Sprintf("the image was built from another version of the catalog, git commit %s: verify it against the catalog at that commit "+
			"(git worktree add DIR %s; hic -C DIR/CATALOG verify ...), or rebuild it from this one", c.GitCommit, c.GitCommit)
	}
	named := "names no git commit"
	if c.Digest != "" {
		named += ", its catalog digest is " + c.Digest
	}
	return "the image was built from another version of the catalog (the provenance " + named + "): verify it against that catalog, or rebuild it from this one"
}

// advisoriesDigest compares the provenance's
// externalParameters.catalog.advisoriesDigest (said) with the digest of
// the catalog's advisories about the installed packages, as the build
// computes it (vex.Advisories.DigestFor over the names in the apk
// databases): an image attested before an advisory changed fails, even
// where its OpenVEX document still states what the catalog does (the
// advisory changed in a field the statements do not carry). Both empty (no
// advisory about the packages) agree. Without Options.Advisories, or with a
// platform's apk database unreadable (provenance-packages says so), there
// is nothing to compare.
func (v *verification) advisoriesDigest(ctx context.Context, said string) []string {
	if v.opts.Advisories == nil {
		return nil
	}
	var names []string
	for _, p := range v.plats {
		if p.dbErr != nil {
			return nil
		}
		for _, q := range p.db {
			names = append(names, q.Name)
		}
	}
	adv, err := v.opts.Advisories(ctx)
	if err != nil {
		return []string{fmt.Sprintf("catalog advisories: %v", err)}
	}
	want, err := adv.DigestFor(names)
	if err != nil {
		return []string{fmt.Sprintf("catalog advisories: %v", err)}
	}
	if want == said {
		return nil
	}
	none := func(d string) string {
		if d == "" {
			return "none (no advisory about the installed packages)"
		}
		return d
	}
	return []string{fmt.Sprintf("advisoriesDigest: the provenance says %s, the catalog's advisories about the installed packages digest to %s: "+
		"the image was attested before the catalog's advisories changed; build it again (hic build re-attests it, its OpenVEX document and provenance, from the current advisories)",
		none(said), none(want))}
}

// hardening: the hardening report about the index has no failing rule.
func (v *verification) hardening(context.Context) Check {
	hs, c, ok := v.indexStatements(CheckHardening, attest.PredicateHardening, "hardening report")
	if !ok {
		return c
	}
	var bad []string
	rules, waived := 0, 0
	for _, st := range hs {
		var hr attest.HardeningReport
		if err := json.Unmarshal(st.Predicate, &hr); err != nil {
			bad = append(bad, err.Error())
			continue
		}
		rules, waived = len(hr.Rules), 0
		var failing []string
		for _, r := range hr.Rules {
			switch r.Status {
			case attest.StatusFail:
				failing = append(failing, r.Rule)
			case attest.StatusWaived:
				waived++
			}
		}
		if hr.Result != attest.StatusPass || len(failing) > 0 {
			bad = append(bad, fmt.Sprintf("result %s, failing rules: %s", hr.Result, strings.Join(failing, ", ")))
		}
	}
	return failures(CheckHardening, bad, func() Check {
		if waived == 0 {
			return pass(CheckHardening, "%d rules pass, none waived", rules)
		}
		return pass(CheckHardening, "%d rules pass, %d waived (below, with their reasons)", rules-waived, waived)
	})
}

// tag: the ref names the image that was signed and built for it.
func (v *verification) tag(context.Context) Check {
	if v.unsigned {
		return fail(CheckTag, "not checked: the image is unsigned, so no signature names a repository for it (see image-signature)")
	}
	t, compiled, prov := v.t, v.compiled, v.prov
	var bad []string
	if len(v.signedRepos) == 0 {
		bad = append(bad, "no valid signature names a repository for this image")
	} else if !slices.ContainsFunc(v.signedRepos, func(r string) bool { return sameRepo(t.Repository, r) }) {
		bad = append(bad, fmt.Sprintf("%s points at an image signed for %s", t.Repository, strings.Join(v.signedRepos, ", ")))
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
	return failures(CheckTag, bad, func() Check {
		if t.Tag != "" {
			return pass(CheckTag, "%s:%s is a tag of spec %s and names the image signed for it", t.Repository, t.Tag, v.res.Spec)
		}
		return pass(CheckTag, "%s names an image signed for %s", v.ref, t.Repository)
	})
}

// rebuild (Options.Rebuild set): rebuilding the spec from the catalog gives
// the same index digest.
func (v *verification) rebuild(ctx context.Context) Check {
	if v.compiled == nil {
		return fail(CheckRebuild, "no compiled spec to rebuild")
	}
	h, err := v.opts.Rebuild(ctx, *v.compiled)
	switch {
	case err != nil:
		return fail(CheckRebuild, "rebuild %s: %v", v.compiled.Ref, err)
	case h != v.t.Digest:
		return fail(CheckRebuild, "rebuilt %s gives %s, the image is %s", v.compiled.Ref, h, v.t.Digest)
	}
	return pass(CheckRebuild, "rebuilding %s from the catalog gives the same index %s", v.compiled.Ref, short(h))
}
