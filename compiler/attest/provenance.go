package attest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"
)

// BuildType is the SLSA build type of hic builds; the package doc describes
// its parameters.
const BuildType = "https://hic.dev/build/v1"

// BuilderID is the default SLSA builder id of hic.
const BuilderID = "https://hic.dev/builder/v1"

// Package is one installed APK package as the resolver locked it, with the
// .apk file it was installed from.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Arch is the APK arch ("x86_64", "aarch64").
	Arch string `json:"arch"`
	// Repository is the URL of the repository the package belongs to, the
	// catalog's real URL (never a mirror): the package's identity, which
	// the purl and the lock name, wherever its file was read from.
	Repository string `json:"repository"`
	// Checksum is the APKINDEX checksum ("Q1…" base64 SHA-1 of the control
	// segment, "Q2…" base64 SHA-256) or a "sha256:<hex>" digest. It is not
	// a digest of the .apk file.
	Checksum string `json:"checksum"`
	// FileDigest is the digest of the .apk file installed ("sha256:<hex>");
	// empty when the build does not know it.
	FileDigest string `json:"fileDigest,omitempty"`
	// Source is where the file was read from: SourceRepository (fetched from
	// DownloadURL), SourceMirror or SourceSyntheticMirror; empty when the
	// build does not say.
	Source string `json:"source,omitempty"`
	// DownloadURL is the URL the file was fetched from, for SourceRepository.
	DownloadURL string `json:"downloadURL,omitempty"`
}

// Where a package's file was read from (Package.Source).
const (
	// SourceRepository: fetched from the catalog's repository URL.
	SourceRepository = "repository"
	// SourceMirror: read from a local mirror of the repository (hic build
	// --mirrors), a directory that is not named in the provenance.
	SourceMirror = "mirror"
	// SourceSyntheticMirror: read from a mirror hic mirror generated: the
	// package has synthetic contents, not the repository's.
	SourceSyntheticMirror = "synthetic-mirror"
)

// Annotations of a package's resolved dependency.
const (
	// AnnotationAPKChecksum is the package's APKINDEX checksum ("Q1…").
	AnnotationAPKChecksum = "apkChecksum"
	// AnnotationRepository is the catalog repository the package belongs to.
	AnnotationRepository = "repository"
	// AnnotationSource is Package.Source.
	AnnotationSource = "source"
)

// Provenance are the inputs of a SLSA provenance statement.
type Provenance struct {
	// Subjects are the image index and the platform manifests.
	Subjects []Subject
	// SpecRef is the spec built ("nginx:1.29-wolfi-runtime").
	SpecRef string
	// CatalogDigest is the digest of the catalog sources ("sha256:…").
	CatalogDigest string
	// GitCommit is the catalog's git commit, when it is a git checkout.
	GitCommit string
	// AdvisoriesDigest is the digest of the catalog's advisories about the
	// installed packages, which the image's OpenVEX document states
	// (vex.Advisories.DigestFor); empty when none is about them.
	AdvisoriesDigest string
	// SourceFile is the spec's file relative to the catalog root.
	SourceFile string
	// CompiledSpecDigest is the digest of the compiled spec ("sha256:…").
	CompiledSpecDigest string
	// Distro is the spec's distro ("wolfi", "alpine-3.22"), for purls.
	Distro string
	// Packages are the installed packages of every platform.
	Packages []Package
	// BuilderID defaults to BuilderID.
	BuilderID string
	// HicVersion and ApkoVersion are the builder's versions.
	HicVersion  string
	ApkoVersion string
	// InputDigest is the spec's input digest, used as invocation id; when
	// empty, one is derived from the fields above.
	InputDigest string
	// BuildTime is the image's reproducible creation time; zero leaves
	// startedOn and finishedOn out.
	BuildTime time.Time
}

// SLSA provenance v1 predicate types, with hic's parameter schema.
type (
	// ProvenancePredicate is the SLSA provenance v1 predicate.
	ProvenancePredicate struct {
		BuildDefinition BuildDefinition `json:"buildDefinition"`
		RunDetails      RunDetails      `json:"runDetails"`
	}
	// BuildDefinition describes the inputs of the build.
	BuildDefinition struct {
		BuildType            string               `json:"buildType"`
		ExternalParameters   ExternalParameters   `json:"externalParameters"`
		InternalParameters   InternalParameters   `json:"internalParameters"`
		ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
	}
	// ExternalParameters are the build type's user-controlled inputs.
	ExternalParameters struct {
		Spec    string        `json:"spec"`
		Catalog CatalogSource `json:"catalog"`
	}
	// CatalogSource identifies the catalog sources the spec came from.
	CatalogSource struct {
		Digest    string `json:"digest,omitempty"`
		GitCommit string `json:"gitCommit,omitempty"`
		File      string `json:"file,omitempty"`
		// AdvisoriesDigest is the digest of the advisories (catalog
		// advisories/*.cue) about the installed packages.
		AdvisoriesDigest string `json:"advisoriesDigest,omitempty"`
	}
	// InternalParameters are what hic derived from the external parameters.
	InternalParameters struct {
		CompiledSpecDigest string `json:"compiledSpecDigest"`
	}
	// RunDetails describes this run of the build.
	RunDetails struct {
		Builder  Builder       `json:"builder"`
		Metadata BuildMetadata `json:"metadata"`
	}
	// Builder identifies hic and the versions of hic and apko.
	Builder struct {
		ID      string            `json:"id"`
		Version map[string]string `json:"version,omitempty"`
	}
	// BuildMetadata is the invocation id and the (reproducible) build times.
	BuildMetadata struct {
		InvocationID string     `json:"invocationId,omitempty"`
		StartedOn    *time.Time `json:"startedOn,omitempty"`
		FinishedOn   *time.Time `json:"finishedOn,omitempty"`
	}
)

// ProvenanceStatement builds the SLSA provenance v1 statement.
func ProvenanceStatement(in Provenance) (*Statement, error) {
	pred, err := ProvenancePredicateOf(in)
	if err != nil {
		return nil, err
	}
	return NewStatement(in.Subjects, PredicateSLSAProvenance, pred)
}

// ProvenancePredicateOf builds the SLSA provenance v1 predicate.
func ProvenancePredicateOf(in Provenance) (*ProvenancePredicate, error) {
	if in.SpecRef == "" {
		return nil, errors.New("provenance: no spec ref")
	}
	if in.CompiledSpecDigest == "" {
		return nil, fmt.Errorf("provenance %s: no compiled spec digest", in.SpecRef)
	}
	pkgs := slices.Clone(in.Packages)
	slices.SortFunc(pkgs, func(a, b Package) int {
		return cmpJoin(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version),
			strings.Compare(a.Arch, b.Arch), strings.Compare(a.Repository, b.Repository),
			strings.Compare(a.DownloadURL, b.DownloadURL), strings.Compare(a.Source, b.Source),
			strings.Compare(a.FileDigest, b.FileDigest), strings.Compare(a.Checksum, b.Checksum))
	})
	pkgs = slices.Compact(pkgs)
	deps := make([]ResourceDescriptor, 0, len(pkgs))
	for _, p := range pkgs {
		rd, err := packageDescriptor(in.Distro, p)
		if err != nil {
			return nil, fmt.Errorf("provenance %s: %w", in.SpecRef, err)
		}
		deps = append(deps, rd)
	}
	builderID := in.BuilderID
	if builderID == "" {
		builderID = BuilderID
	}
	version := map[string]string{}
	if in.HicVersion != "" {
		version["hic"] = in.HicVersion
	}
	if in.ApkoVersion != "" {
		version["apko"] = in.ApkoVersion
	}
	if len(version) == 0 {
		version = nil
	}
	meta := BuildMetadata{InvocationID: in.InputDigest}
	if meta.InvocationID == "" {
		meta.InvocationID = deriveInvocationID(in, pkgs)
	}
	if !in.BuildTime.IsZero() {
		t := in.BuildTime.UTC()
		meta.StartedOn, meta.FinishedOn = &t, &t
	}
	return &ProvenancePredicate{
		BuildDefinition: BuildDefinition{
			BuildType: BuildType,
			ExternalParameters: ExternalParameters{
				Spec: in.SpecRef,
				Catalog: CatalogSource{
					Digest:           in.CatalogDigest,
					GitCommit:        in.GitCommit,
					File:             in.SourceFile,
					AdvisoriesDigest: in.AdvisoriesDigest,
				},
			},
			InternalParameters:   InternalParameters{CompiledSpecDigest: in.CompiledSpecDigest},
			ResolvedDependencies: deps,
		},
		RunDetails: RunDetails{
			Builder:  Builder{ID: builderID, Version: version},
			Metadata: meta,
		},
	}, nil
}

func cmpJoin(cs ...int) int {
	for _, c := range cs {
		if c != 0 {
			return c
		}
	}
	return 0
}

// deriveInvocationID hashes the provenance inputs into an invocation id for
// callers that have no input digest.
func deriveInvocationID(in Provenance, sorted []Package) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s\n", len(s), s) }
	for _, s := range []string{in.SpecRef, in.CatalogDigest, in.GitCommit, in.CompiledSpecDigest,
		in.Distro, in.HicVersion, in.ApkoVersion} {
		field(s)
	}
	if in.AdvisoriesDigest != "" {
		// Only when set, so the ids of images without advisories stay.
		field("advisories")
		field(in.AdvisoriesDigest)
	}
	for _, p := range sorted {
		for _, s := range []string{p.Name, p.Version, p.Arch, p.Repository, p.Checksum} {
			field(s)
		}
		// Only when set, so the ids of callers without them stay.
		if p.FileDigest != "" || p.Source != "" || p.DownloadURL != "" {
			field("file")
			for _, s := range []string{p.FileDigest, p.Source, p.DownloadURL} {
				field(s)
			}
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// PackageURL returns the purl of an APK package:
// pkg:apk/<namespace>/<name>@<version>?arch=…&distro=…&repository_url=….
// The namespace is the distro name before its first "-" ("alpine" for
// "alpine-3.22"); the distro qualifier is set when the distro has a version.
func PackageURL(distro string, p Package) string {
	ns, _, versioned := strings.Cut(distro, "-")
	var q packageurl.Qualifiers
	if p.Arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: p.Arch})
	}
	if versioned {
		q = append(q, packageurl.Qualifier{Key: "distro", Value: distro})
	}
	if p.Repository != "" {
		q = append(q, packageurl.Qualifier{Key: "repository_url", Value: p.Repository})
	}
	return packageurl.NewPackageURL(packageurl.TypeApk, ns, p.Name, p.Version, q, "").ToString()
}

func packageDescriptor(distro string, p Package) (ResourceDescriptor, error) {
	if p.Name == "" || p.Version == "" {
		return ResourceDescriptor{}, fmt.Errorf("package %q: name and version are required", p.Name+"="+p.Version)
	}
	// The APK checksum is checked for its form, but it is no digest of the
	// resource (it hashes the control segment only): an annotation.
	if _, err := ChecksumDigest(p.Checksum); err != nil {
		return ResourceDescriptor{}, fmt.Errorf("package %s=%s: %w", p.Name, p.Version, err)
	}
	rd := ResourceDescriptor{
		URI:         PackageURL(distro, p),
		Name:        p.Name,
		Annotations: map[string]string{AnnotationAPKChecksum: p.Checksum},
	}
	// The digest is the .apk file's. Without it (a builder that does not
	// hash the file) the descriptor has none, rather than one of something
	// else.
	if p.FileDigest != "" {
		alg, h, ok := strings.Cut(p.FileDigest, ":")
		if b, err := hex.DecodeString(h); !ok || alg != "sha256" || err != nil || len(b) != sha256.Size {
			return ResourceDescriptor{}, fmt.Errorf("package %s=%s: file digest %q is not sha256:<hex>", p.Name, p.Version, p.FileDigest)
		}
		rd.Digest = map[string]string{alg: strings.ToLower(h)}
	}
	if p.Repository != "" {
		rd.Annotations[AnnotationRepository] = p.Repository
	}
	switch p.Source {
	case "":
	case SourceRepository, SourceMirror, SourceSyntheticMirror:
		rd.Annotations[AnnotationSource] = p.Source
	default:
		return ResourceDescriptor{}, fmt.Errorf("package %s=%s: source %q is not %s, %s or %s", p.Name, p.Version, p.Source,
			SourceRepository, SourceMirror, SourceSyntheticMirror)
	}
	// The download location is where the bytes were fetched from. A
	// mirror's file was read from a local directory: no location, rather
	// than the repository's, whose file (a synthetic mirror's above all)
	// may not be these bytes.
	if p.Source == SourceRepository {
		rd.DownloadLocation = p.DownloadURL
	}
	return rd, nil
}

// ChecksumDigest decodes an APK checksum into a digest set:
// "Q1<base64>" is {"sha1": hex}, "Q2<base64>" {"sha256": hex}, and
// "sha256:<hex>" {"sha256": hex}. A Q1 or Q2 checksum hashes the package's
// control segment, not its .apk file: this is no in-toto digest of the file.
func ChecksumDigest(checksum string) (map[string]string, error) {
	decode := func(alg, b64 string, size int) (map[string]string, error) {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("checksum %q: %w", checksum, err)
		}
		if len(raw) != size {
			return nil, fmt.Errorf("checksum %q: %d bytes, want %d for %s", checksum, len(raw), size, alg)
		}
		return map[string]string{alg: hex.EncodeToString(raw)}, nil
	}
	switch {
	case checksum == "":
		return nil, errors.New("no checksum")
	case strings.HasPrefix(checksum, "Q1"):
		return decode("sha1", checksum[2:], sha1Size)
	case strings.HasPrefix(checksum, "Q2"):
		return decode("sha256", checksum[2:], sha256.Size)
	case strings.HasPrefix(checksum, "sha256:"):
		h := strings.TrimPrefix(checksum, "sha256:")
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("checksum %q: not a sha256 hex digest", checksum)
		}
		return map[string]string{"sha256": strings.ToLower(h)}, nil
	}
	return nil, fmt.Errorf("checksum %q: want Q1… (SHA-1), Q2… (SHA-256) or sha256:…", checksum)
}

const sha1Size = 20
