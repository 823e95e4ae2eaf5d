package site

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/smoke"
	"github.com/hic-build/hic/compiler/vex"
)

//go:embed assets
var assets embed.FS

// EndingWindow is how close an end-of-life date must be for a spec to be
// "ending".
const EndingWindow = 90 * 24 * time.Hour

// End-of-life statuses of a spec.
const (
	EOLSupported = "supported"
	EOLEnding    = "ending"
	// EOLPast: past its end of life, built under an end-of-life exception.
	EOLPast = "past"
)

// StatusStale is the build status of a spec whose image in the layout was
// built from an earlier version of it: its provenance's compiledSpecDigest
// is not the digest of the spec compiled now.
const StatusStale = "stale"

// staleLabel is what the site says of a StatusStale spec.
const staleLabel = "built from an earlier version of this spec; run hic build"

// Input is what a site is made from.
type Input struct {
	// Images are every compiled spec of the catalog.
	Images []compile.Image
	// Report is the build report (merged across shards); nil: no build.
	Report *report.Report
	// Layout is the build's OCI image layout (out/oci); empty: none.
	Layout string
	// Today judges end-of-life statuses. Zero: now.
	Today time.Time
	// Registry, when set, is the registry prefix the images are published
	// to ("registry.example/hic"); the verify commands name it.
	Registry string
	// PublicKey is the public key path the verify commands name; default hic.pub.
	PublicKey string
	// Verifier, when set, is PublicKey's: every attestation's signature is
	// verified with it, and the hardening report and the OpenVEX document
	// are shown only from verified envelopes, labelled so. Nil: they are
	// shown as attached, their signatures not checked.
	Verifier *sign.Verifier
	// LayoutName is the layout path the hic verify commands name; default out/oci.
	LayoutName string
}

// Summary says what Write wrote.
type Summary struct {
	Specs, Images, Built int
	// Stale is how many of Built are images of an earlier version of their
	// spec (StatusStale).
	Stale int
	Index string
}

// Write writes the site into dir (index.html, one page per spec under
// images/, catalog.json, style.css, site.js), replacing the files it owns.
func Write(ctx context.Context, dir string, in Input) (*Summary, error) {
	if in.Today.IsZero() {
		in.Today = time.Now().UTC()
	}
	if in.PublicKey == "" {
		in.PublicKey = "hic.pub"
	}
	if in.LayoutName == "" {
		in.LayoutName = "out/oci"
	}
	layout, err := readLayout(ctx, in.Layout, in.Verifier)
	if err != nil {
		return nil, err
	}
	tpl, err := template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("site: templates: %w", err)
	}
	entries, err := entriesOf(in, layout)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	for _, a := range []string{"style.css", "site.js"} {
		b, err := assets.ReadFile("assets/" + a)
		if err != nil {
			return nil, err
		}
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, a), b, 0o644); err != nil {
			return nil, fmt.Errorf("site: %w", err)
		}
	}
	sum := &Summary{Specs: len(entries), Index: filepath.Join(dir, "index.html")}
	images := map[string]bool{}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		images[e.Image] = true
		if e.Index != "" {
			sum.Built++
		}
		if e.BuiltFrom != "" {
			sum.Stale++
		}
		if err := render(tpl, "image.html", filepath.Join(dir, e.Page), pageData{Root: "../", Title: e.Ref, Entry: e, Siblings: siblings(entries, e)}); err != nil {
			return nil, err
		}
	}
	sum.Images = len(images)
	facets := facetsOf(entries)
	data, err := indexData(entries)
	if err != nil {
		return nil, err
	}
	rows := entries[:min(len(entries), IndexRows)]
	if err := render(tpl, "index.html", filepath.Join(dir, "index.html"), pageData{Root: "", Title: "hic image catalog", Entries: entries, Rows: rows, IndexData: data, Facets: facets, Summary: sum, Generated: in.Today.Format(time.DateOnly)}); err != nil {
		return nil, err
	}
	// Compact: the whole catalog's entries with their packages and
	// attestations are megabytes, and machines do not need the indentation.
	cj, err := json.Marshal(catalogJSON{Generated: in.Today.Format(time.DateOnly), Specs: entries})
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "catalog.json"), append(cj, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	return sum, nil
}

type catalogJSON struct {
	Generated string   `json:"generated"`
	Specs     []*Entry `json:"specs"`
}

// IndexRows is how many rows of the index are HTML in index.html; site.js
// renders the others from the page's compact index data as the reader
// scrolls, searches or filters, so the index of a 1,300-spec catalog loads
// in well under a second (BenchmarkSiteIndexLoad in cmd/hic).
const IndexRows = 100

// indexData is the index's data, one compact row per entry, in the order
// site.js reads: ref, page, title, distro, variant, tags, build status,
// end-of-life status and date, categories, main package. encoding/json
// escapes <, > and &, so the JSON is safe inside a script element.
func indexData(entries []*Entry) (template.JS, error) {
	rows := make([][11]string, len(entries))
	for i, e := range entries {
		rows[i] = [11]string{e.Ref, e.Page, e.Title, e.Distro, e.Variant, strings.Join(e.Tags, " "), e.Status,
			e.EOLStatus, e.EndOfLife, strings.Join(e.Categories, " "), e.MainPackage}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return "", fmt.Errorf("site: index data: %w", err)
	}
	return template.JS(b), nil
}

type pageData struct {
	Root     string
	Title    string
	Entry    *Entry
	Siblings []*Entry
	Entries  []*Entry
	// Rows are the entries index.html lists as HTML; IndexData has all.
	Rows      []*Entry
	IndexData template.JS
	Facets    facets
	Summary   *Summary
	Generated string
}

func render(tpl *template.Template, name, path string, data pageData) error {
	var buf bytes.Buffer
	if err := tpl.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("site: %s: %w", path, err)
	}
	if err := fsutil.WriteFileAtomic(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("site: %w", err)
	}
	return nil
}

// Entry is one spec as the site shows it; catalog.json lists them.
type Entry struct {
	Ref         string   `json:"ref"`
	Image       string   `json:"image"`
	Stream      string   `json:"stream"`
	Version     string   `json:"version"`
	Distro      string   `json:"distro"`
	Variant     string   `json:"variant"`
	Repository  string   `json:"repository"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Homepage    string   `json:"homepage"`
	Source      string   `json:"source,omitempty"`
	License     string   `json:"license"`
	Categories  []string `json:"categories"`
	Tags        []string `json:"tags"`
	MainPackage string   `json:"mainPackage"`
	Released    string   `json:"released"`
	EndOfLife   string   `json:"endOfLife,omitempty"`
	EOLStatus   string   `json:"eolStatus"`
	// Status is the build status: built, cached, failed, cancelled, "not
	// built" when the report has no line for the spec, or StatusStale when
	// the layout's image was built from an earlier version of the spec.
	Status string `json:"status"`
	// CompiledDigest is the digest of the compiled spec shown (compile.Digest).
	CompiledDigest string `json:"compiledSpecDigest"`
	// BuiltFrom, when set, is the compiled spec digest the image's
	// provenance records, which is not CompiledDigest: the image shown is of
	// an earlier version of the spec.
	BuiltFrom string `json:"builtFromCompiledSpecDigest,omitempty"`
	// BuiltFromUnknown, when set, says why it is not known which version
	// of the spec the image shown was built from: it has no provenance the
	// site could read (an unsigned build), or none verified with the key.
	BuiltFromUnknown string `json:"builtFromUnknown,omitempty"`
	// Synthetic: built from a generated mirror, so its packages' contents
	// are synthetic (hic mirror), not the distro's.
	Synthetic  bool                `json:"synthetic,omitempty"`
	Error      string              `json:"error,omitempty"`
	Page       string              `json:"page"`
	Index      string              `json:"indexDigest,omitempty"`
	Platforms  []platformDigest    `json:"platforms,omitempty"`
	Exceptions []compile.Exception `json:"exceptions,omitempty"`
	// Checklist is the hardening report's rules (signed), else the
	// exceptions alone.
	Checklist       []attest.RuleResult `json:"checklist,omitempty"`
	HardeningResult string              `json:"hardeningResult,omitempty"`
	Findings        []finding.Finding   `json:"findings,omitempty"`
	Tests           []smoke.Result      `json:"tests,omitempty"`
	Packages        []platformPackages  `json:"packages,omitempty"`
	Attestations    []attestationView   `json:"attestations,omitempty"`
	VEX             []vexStatement      `json:"vex,omitempty"`
	// Signatures says how far the attestations' contents shown are to be
	// trusted: "Signed (verified with key K)" with a key, else attached,
	// their signatures not checked.
	Signatures string `json:"signatures,omitempty"`
	// Damaged lists the blobs of the layout that do not match their digest.
	Damaged []string `json:"damaged,omitempty"`
	// HardeningProblem and VEXProblem say why the hardening report or the
	// OpenVEX document is not shown.
	HardeningProblem string   `json:"hardeningProblem,omitempty"`
	VEXProblem       string   `json:"vexProblem,omitempty"`
	VerifyCommands   []string `json:"verifyCommands,omitempty"`
	Compiled         string   `json:"-"`
}

type platformPackages struct {
	Platform string        `json:"platform"`
	Packages []sbomPackage `json:"packages"`
}

type attestationView struct {
	PredicateType string `json:"predicateType"`
	Name          string `json:"name"`
	Of            string `json:"of"`
	Subject       string `json:"subject"`
	Signature     string `json:"signature"`
	Cosign        string `json:"cosign"`
}

type vexStatement struct {
	ID            string   `json:"id"`
	Status        string   `json:"status"`
	Justification string   `json:"justification,omitempty"`
	Impact        string   `json:"impact,omitempty"`
	Action        string   `json:"action,omitempty"`
	Notes         string   `json:"notes,omitempty"`
	Packages      []string `json:"packages"`
}

func entriesOf(in Input, layout map[string]*built) ([]*Entry, error) {
	reports := map[string]report.SpecReport{}
	if in.Report != nil {
		for _, s := range in.Report.Specs {
			reports[s.Ref] = s
		}
	}
	imgs := append([]compile.Image(nil), in.Images...)
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Ref < imgs[j].Ref })
	out := make([]*Entry, 0, len(imgs))
	for _, img := range imgs {
		m := img.Metadata
		e := &Entry{
			Ref: img.Ref, Image: m.Image, Stream: m.Stream, Version: m.Version, Distro: m.Distro, Variant: m.Variant,
			Repository: img.Repository, Title: m.Title, Description: m.Description, Homepage: m.Homepage, Source: m.Source,
			License: m.License, Categories: m.Categories, MainPackage: m.MainPackage, Released: m.Released, EndOfLife: m.EndOfLife,
			EOLStatus: eolStatus(m.EndOfLife, in.Today), Status: "not built", Page: "images/" + pageName(img.Ref),
			Exceptions: img.Policy.Exceptions,
		}
		for _, t := range img.Tags {
			e.Tags = append(e.Tags, img.Repository+":"+t)
		}
		cb, err := compile.Marshal(img)
		if err != nil {
			return nil, err
		}
		e.Compiled = string(cb)
		sum := sha256.Sum256(cb) // compile.Digest, without marshaling twice
		e.CompiledDigest = "sha256:" + hex.EncodeToString(sum[:])
		if r, ok := reports[img.Ref]; ok {
			e.Status, e.Error, e.Findings, e.Tests, e.Synthetic = r.Status, r.Error, r.Findings, r.Tests, r.Synthetic
		}
		if b := layout[img.Ref]; b != nil {
			e.Index, e.Platforms = b.Index, b.Platforms
			// The image's provenance names the compiled spec it was built
			// from: another one than the catalog's now is an earlier
			// version, whatever the report says of the spec.
			if b.CompiledSpec == "" {
				e.BuiltFromUnknown = "the image has no readable provenance, so whether it was built from this version of the spec is not known (hic verify checks it)"
			} else if b.CompiledSpec != e.CompiledDigest {
				e.BuiltFrom = b.CompiledSpec
				switch e.Status {
				case report.StatusBuilt, report.StatusCached, "not built":
					e.Status = StatusStale
				}
			}
			for _, p := range b.Platforms {
				if pk, ok := b.Packages[p.Platform]; ok {
					e.Packages = append(e.Packages, platformPackages{p.Platform, pk})
				}
			}
			if b.Hardening != nil {
				e.Checklist, e.HardeningResult = b.Hardening.Rules, b.Hardening.Result
				if len(e.Tests) == 0 {
					e.Tests = b.Hardening.Tests
				}
			}
			e.VEX = vexStatements(b.VEX)
			e.Damaged, e.HardeningProblem, e.VEXProblem = b.Damaged, b.HardeningProblem, b.VEXProblem
			e.Signatures = "attached, signature not checked (hic verify checks it)"
			if in.Verifier != nil {
				e.Signatures = fmt.Sprintf("Signed (verified with key %s)", sign.DescribeKeySource(in.PublicKey))
			}
			ref := imageRef(in.Registry, img.Repository, b.Index)
			for _, a := range b.Attestations {
				subj := imageRef(in.Registry, img.Repository, a.Subject)
				e.Attestations = append(e.Attestations, attestationView{
					PredicateType: a.PredicateType, Name: predicateName(a.PredicateType), Of: a.Of, Subject: a.Subject, Signature: a.Signature,
					Cosign: fmt.Sprintf("cosign verify-attestation --key %s --insecure-ignore-tlog --type %s %s", in.PublicKey, a.PredicateType, subj),
				})
			}
			e.VerifyCommands = []string{
				fmt.Sprintf("hic verify --key %s --layout %s %s", in.PublicKey, in.LayoutName, img.Ref),
				fmt.Sprintf("hic verify --key %s %s", in.PublicKey, imageRef(in.Registry, img.Repository, "")+":"+lastTag(img.Tags)),
				fmt.Sprintf("cosign verify --key %s --insecure-ignore-tlog %s", in.PublicKey, ref),
			}
		}
		// Failing rules first, then waivers with their reasons, then passes.
		rank := map[string]int{attest.StatusFail: 0, attest.StatusWaived: 1}
		sort.SliceStable(e.Checklist, func(i, j int) bool {
			ri, ok := rank[e.Checklist[i].Status]
			if !ok {
				ri = 2
			}
			rj, ok := rank[e.Checklist[j].Status]
			if !ok {
				rj = 2
			}
			return ri < rj
		})
		if len(e.Checklist) == 0 {
			for _, x := range img.Policy.Exceptions {
				e.Checklist = append(e.Checklist, attest.RuleResult{Rule: x.Rule, Status: attest.StatusWaived, Reason: x.Reason})
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func lastTag(tags []string) string {
	if len(tags) == 0 {
		return "latest"
	}
	return tags[len(tags)-1]
}

// imageRef names an image for the verify commands: REGISTRY/REPO@DIGEST.
func imageRef(registry, repo, digest string) string {
	if registry == "" {
		registry = "REGISTRY"
	}
	r := strings.TrimSuffix(registry, "/") + "/" + repo
	if digest != "" {
		r += "@" + digest
	}
	return r
}

func vexStatements(doc *govex.VEX) []vexStatement {
	if doc == nil {
		return nil
	}
	var out []vexStatement
	for _, st := range doc.Statements {
		v := vexStatement{ID: string(st.Vulnerability.Name), Status: string(st.Status), Justification: string(st.Justification),
			Impact: st.ImpactStatement, Action: st.ActionStatement, Notes: st.StatusNotes}
		for _, p := range st.Products {
			for _, s := range p.Subcomponents {
				v.Packages = append(v.Packages, s.ID)
			}
		}
		out = append(out, v)
	}
	return out
}

func predicateName(pt string) string {
	switch pt {
	case attest.PredicateSLSAProvenance:
		return "SLSA provenance v1"
	case attest.PredicateSPDX:
		return "SPDX SBOM"
	case attest.PredicateCycloneDX:
		return "CycloneDX SBOM"
	case attest.PredicateHardening:
		return "hardening report"
	case vex.PredicateType:
		return "OpenVEX"
	}
	return pt
}

func eolStatus(eol string, today time.Time) string {
	if eol == "" {
		return EOLSupported
	}
	t, err := time.Parse(time.DateOnly, eol)
	if err != nil {
		return EOLSupported
	}
	switch {
	case t.Before(today):
		return EOLPast
	case t.Before(today.Add(EndingWindow)):
		return EOLEnding
	}
	return EOLSupported
}

// pageName is the file of a spec's page: its ref with ':' made '_'.
func pageName(ref string) string {
	return strings.NewReplacer(":", "_", "/", "_").Replace(ref) + ".html"
}

// siblings are the other specs of the same image.
func siblings(all []*Entry, e *Entry) []*Entry {
	var out []*Entry
	for _, o := range all {
		if o.Image == e.Image {
			out = append(out, o)
		}
	}
	return out
}

type facets struct {
	Categories, Distros, Variants []string
}

func facetsOf(es []*Entry) facets {
	c, d, v := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range es {
		for _, x := range e.Categories {
			c[x] = true
		}
		d[e.Distro], v[e.Variant] = true, true
	}
	return facets{keys(c), keys(d), keys(v)}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"short": func(d string) string {
		d = strings.TrimPrefix(d, "sha256:")
		if len(d) > 12 {
			return d[:12]
		}
		return d
	},
	"lower": strings.ToLower,
	"statusLabel": func(s string) string {
		if s == StatusStale {
			return staleLabel
		}
		return s
	},
	// base is a sibling page's file, relative to the images/ folder.
	"base":    func(p string) string { return strings.TrimPrefix(p, "images/") },
	"failing": func(f finding.Finding) bool { return f.Failing() },
	"eolLabel": func(s string) string {
		switch s {
		case EOLEnding:
			return "ending within 90 days"
		case EOLPast:
			return "past end of life (exception)"
		}
		return "supported"
	},
}
