package main

// The interop suite (issue 12): what hic writes, the tools auditors and
// maintainers already run accept. hic builds and signs a small catalog,
// publishes it with --key to two real registries (distribution v3, which has
// no OCI referrers API, and go-containerregistry's registry with the
// referrers API), and real programs read the result: cosign verify and
// verify-attestation (all four predicate types), oras discover and pull,
// crane validate, syft (its package list equals hic's SBOM), the
// containers/image policy engine under matchRepository (.ci/policy-check). The layout's
// envelopes, statements and SBOMs go through go-securesystemslib's DSSE
// verifier, in-toto attestation Validate(), spdx/tools-golang and the
// CycloneDX 1.6 JSON schema.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	provv1 "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita "github.com/in-toto/attestation/go/v1"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/testenv"
)

// interopTools are the programs the suite runs, from .ci/tools.sh.
type interopTools struct {
	cosign, oras, crane, syft, policyCheck string
}

func lookInteropTools(t *testing.T) interopTools {
	t.Helper()
	return interopTools{
		cosign:      testenv.Tool(t, "cosign"),
		oras:        testenv.Tool(t, "oras"),
		crane:       testenv.Tool(t, "crane"),
		syft:        testenv.Tool(t, "syft"),
		policyCheck: testenv.Tool(t, "policy-check"),
	}
}

// interopBuild is one signed build of attCatalog.
type interopBuild struct {
	dir, layout, key, pub string
}

func TestInterop(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	hicCLI(t, nil, "keygen", "--out", keys).must(t, 0)
	mirror, out := filepath.Join(dir, "mirror"), filepath.Join(dir, "out")
	hicCLI(t, nil, "-C", attCatalog, "mirror", "--out", mirror).must(t, 0)
	b := interopBuild{
		dir:    dir,
		layout: filepath.Join(out, "oci"),
		key:    filepath.Join(keys, sign.PrivateKeyFile),
		pub:    filepath.Join(keys, sign.PublicKeyFile),
	}
	hicCLI(t, nil, "-C", attCatalog, "build", "--all", "--mirrors", mirror, "--today", attToday, "--jobs", "2", "--out", out, "--key", b.key).must(t, 0)

	t.Run("layout", func(t *testing.T) { interopLayout(t, b) })

	tools := lookInteropTools(t)
	distribution := testenv.StartRegistry(t)
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	referrersAPI := strings.TrimPrefix(srv.URL, "http://")
	for _, reg := range []struct {
		name, host   string
		referrersAPI bool
	}{
		{"distribution-v3", distribution, false},
		{"ggcr-referrers-api", referrersAPI, true},
	} {
		t.Run(reg.name, func(t *testing.T) { interopRegistry(t, tools, b, reg.host, reg.referrersAPI) })
	}
}

// layoutReferrer is a referrer manifest of the layout and its one payload.
type layoutReferrer struct {
	artifactType string
	subject      string
	payload      []byte
}

func layoutReferrers(t *testing.T, layoutDir string) []layoutReferrer {
	t.Helper()
	blob := func(digest string) []byte {
		alg, hex, _ := strings.Cut(digest, ":")
		b, err := os.ReadFile(filepath.Join(layoutDir, "blobs", alg, hex))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var idx struct {
		Manifests []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(blob2(t, filepath.Join(layoutDir, "index.json")), &idx); err != nil {
		t.Fatal(err)
	}
	var out []layoutReferrer
	seen := map[string]bool{}
	for _, d := range idx.Manifests {
		if d.ArtifactType == "" || seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		var m struct {
			ArtifactType string `json:"artifactType"`
			Subject      struct {
				Digest string `json:"digest"`
			} `json:"subject"`
			Layers []struct {
				Digest string `json:"digest"`
			} `json:"layers"`
		}
		if err := json.Unmarshal(blob(d.Digest), &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Layers) != 1 {
			t.Fatalf("referrer %s has %d layers", d.Digest, len(m.Layers))
		}
		out = append(out, layoutReferrer{artifactType: m.ArtifactType, subject: m.Subject.Digest, payload: blob(m.Layers[0].Digest)})
	}
	return out
}

func blob2(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// interopLayout checks every envelope, statement and SBOM in the layout with
// libraries hic did not write.
func interopLayout(t *testing.T, b interopBuild) {
	ctx := context.Background()
	key, err := signerverifier.LoadKey(blob2(t, b.pub))
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signerverifier.NewECDSASignerVerifierFromSSLibKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := dsse.NewEnvelopeVerifier(sv)
	if err != nil {
		t.Fatal(err)
	}
	bomSchema := cycloneDXSchema(t)

	byType := map[string]int{}
	namespaces := map[string]string{}
	var envelopes, statements, spdxDocs, boms int
	for _, r := range layoutReferrers(t, b.layout) {
		switch r.artifactType {
		case attest.ArtifactType:
			envelopes++
			var env dsse.Envelope
			if err := json.Unmarshal(r.payload, &env); err != nil {
				t.Fatalf("envelope of %s: %v", r.subject, err)
			}
			if _, err := ev.Verify(ctx, &env); err != nil {
				t.Errorf("go-securesystemslib DSSE verifier rejects an envelope of %s: %v", r.subject, err)
				continue
			}
			payload, err := base64.StdEncoding.DecodeString(env.Payload)
			if err != nil {
				t.Fatal(err)
			}
			var st ita.Statement
			if err := protojson.Unmarshal(payload, &st); err != nil {
				t.Errorf("in-toto Statement of %s: %v", r.subject, err)
				continue
			}
			if err := st.Validate(); err != nil {
				t.Errorf("in-toto Statement.Validate (%s of %s): %v", st.PredicateType, r.subject, err)
				continue
			}
			statements++
			byType[st.PredicateType]++
			pred, err := protojson.Marshal(st.Predicate)
			if err != nil {
				t.Fatal(err)
			}
			switch st.PredicateType {
			case attest.PredicateSLSAProvenance:
				var p provv1.Provenance
				if err := protojson.Unmarshal(pred, &p); err != nil {
					t.Errorf("SLSA provenance of %s: %v", r.subject, err)
				} else if err := p.Validate(); err != nil {
					t.Errorf("SLSA Provenance.Validate (%s): %v", r.subject, err)
				}
			case attest.PredicateCycloneDX:
				boms++
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(pred))
				if err != nil {
					t.Fatal(err)
				}
				if err := bomSchema.Validate(inst); err != nil {
					t.Errorf("CycloneDX 1.6 schema rejects the BOM of %s: %v", r.subject, err)
				}
			case attest.PredicateSPDX:
				checkSPDX(t, "statement of "+r.subject, pred, nil)
			}
		case "application/spdx+json":
			spdxDocs++
			checkSPDX(t, "SBOM of "+r.subject, r.payload, namespaces)
		}
	}
	for _, pt := range []string{attest.PredicateSLSAProvenance, attest.PredicateSPDX, attest.PredicateCycloneDX, attest.PredicateHardening} {
		if byType[pt] == 0 {
			t.Errorf("no %s statement in the layout", pt)
		}
	}
	if envelopes == 0 || spdxDocs == 0 || boms == 0 {
		t.Fatalf("layout has %d envelopes, %d SPDX documents, %d CycloneDX BOMs", envelopes, spdxDocs, boms)
	}
	t.Logf("interop layout: %d DSSE envelopes verified by go-securesystemslib, %d in-toto statements valid %v, %d SPDX documents valid (tools-golang) with %d distinct namespaces, %d CycloneDX BOMs valid (1.6 schema)",
		envelopes, statements, byType, spdxDocs, len(namespaces), boms)
}

// checkSPDX reads an SPDX JSON document with spdx/tools-golang, validates
// it, checks the fields SPDX requires, and (with namespaces) that its
// namespace is unique among the documents seen.
func checkSPDX(t *testing.T, what string, b []byte, namespaces map[string]string) {
	t.Helper()
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s: tools-golang cannot read it: %v", what, err)
		return
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("%s: tools-golang: %v", what, err)
	}
	switch {
	case doc.SPDXVersion != "SPDX-2.3", doc.DataLicense != "CC0-1.0", doc.SPDXIdentifier != "DOCUMENT", doc.DocumentName == "",
		doc.CreationInfo == nil || len(doc.CreationInfo.Creators) == 0 || doc.CreationInfo.Created == "":
		t.Errorf("%s: required fields: version %q, data license %q, id %q, name %q, creation info %+v",
			what, doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier, doc.DocumentName, doc.CreationInfo)
	}
	if namespaces != nil {
		ns := doc.DocumentNamespace
		if other, ok := namespaces[ns]; ok && ns != "" {
			t.Errorf("%s and %s share documentNamespace %q (SPDX wants one per document)", what, other, ns)
		}
		namespaces[ns] = what
	}
	for _, p := range doc.Packages {
		for _, r := range p.PackageExternalReferences {
			if r.RefType == "purl" && strings.HasPrefix(r.Locator, "pkg:apk/") && !strings.Contains(r.Locator, "distro=") {
				t.Errorf("%s: purl %s has no distro qualifier", what, r.Locator)
			}
		}
	}
}

// cycloneDXSchema compiles the CycloneDX 1.6 JSON schema shipped in the
// cyclonedx-go module hic builds with.
func cycloneDXSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go")
	cmd.Dir = testenv.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list cyclonedx-go: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	c := jsonschema.NewCompiler()
	for url, file := range map[string]string{
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
		"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schemax.json",
	} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatalf("compile the CycloneDX 1.6 schema: %v", err)
	}
	return s
}

// runTool runs a program with a scratch HOME and no network but loopback
// (see runCosign in compiler/publish) and returns its combined output.
func runTool(t *testing.T, home string, env []string, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	deadProxy := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	cmd.Env = append([]string{
		"HOME=" + home, "PATH=/usr/bin:/bin", "DOCKER_CONFIG=" + home, "TUF_ROOT=" + home + "/tuf",
		"HTTPS_PROXY=" + deadProxy, "HTTP_PROXY=" + deadProxy, "NO_PROXY=127.0.0.1,localhost",
		"XDG_CONFIG_HOME=" + home + "/.config", "XDG_CACHE_HOME=" + home + "/.cache",
	}, env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func mustTool(t *testing.T, home string, env []string, bin string, args ...string) string {
	t.Helper()
	out, err := runTool(t, home, env, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return out
}

// interopRegistry publishes the build to reg and runs the tools against it.
func interopRegistry(t *testing.T, tools interopTools, b interopBuild, reg string, referrersAPI bool) {
	home := t.TempDir()
	prefix := reg + "/hic"
	hicCLI(t, nil, "-C", attCatalog, "publish", "--layout", b.layout, "--key", b.key, prefix).must(t, 0)
	// The same images without --key carry the layout's signatures, which
	// name the catalog repository only.
	hicCLI(t, nil, "-C", attCatalog, "publish", "--layout", b.layout, reg+"/unsigned-for-destination", "web:2").must(t, 0)
	ref := prefix + "/web:2"

	t.Run("cosign", func(t *testing.T) {
		insecure := []string{"--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry", "--key", b.pub}
		out := mustTool(t, home, nil, tools.cosign, append(append([]string{"verify"}, insecure...), ref)...)
		if !strings.Contains(out, "The signatures were verified against the specified public key") {
			t.Errorf("cosign verify:\n%s", out)
		}
		for _, typ := range []string{"slsaprovenance1", "spdxjson", "cyclonedx", attest.PredicateHardening} {
			out := mustTool(t, home, nil, tools.cosign, append(append([]string{"verify-attestation", "--type", typ}, insecure...), ref)...)
			if !strings.Contains(out, "The signatures were verified against the specified public key") {
				t.Errorf("cosign verify-attestation --type %s:\n%s", typ, out)
			}
		}
	})

	t.Run("oras", func(t *testing.T) {
		out := mustTool(t, home, nil, tools.oras, "discover", "--plain-http", "--format", "json", ref)
		var tree any
		if err := json.Unmarshal([]byte(out), &tree); err != nil {
			t.Fatalf("oras discover --format json: %v\n%s", err, out)
		}
		// Every referrer of the index, pulled: each layer is saved under its
		// title. (Files, not artifactType, tell what each is: the
		// go-containerregistry registry's referrers API reports the config
		// media type as artifactType.)
		var digests []string
		walkReferrers(tree, func(_, digest string) { digests = append(digests, digest) })
		files := map[string]string{}
		for _, d := range digests {
			dst := filepath.Join(t.TempDir(), "pulled")
			mustTool(t, home, nil, tools.oras, "pull", "--plain-http", "-o", dst, prefix+"/web@"+d)
			ents, err := os.ReadDir(dst)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				files[e.Name()] = filepath.Join(dst, e.Name())
			}
		}
		var names []string
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		want := []string{"findings.json", "hardening.dsse.json", "openvex.dsse.json", "provenance.dsse.json", "sbom-index.spdx.json", "sbom.cdx.dsse.json", "sbom.spdx.dsse.json", "signature.json"}
		if !slices.Equal(want, names) {
			t.Fatalf("oras pull of the %d referrers of %s saved %v, want %v", len(digests), ref, names, want)
		}
		got, err := os.ReadFile(files["sbom-index.spdx.json"])
		if err != nil {
			t.Fatal(err)
		}
		checkSPDX(t, "SBOM pulled by oras", got, nil)
	})

	t.Run("crane", func(t *testing.T) {
		out := mustTool(t, home, nil, tools.crane, "validate", "--insecure", "--remote", ref)
		if !strings.Contains(out, "PASS") {
			t.Errorf("crane validate:\n%s", out)
		}
	})

	t.Run("syft", func(t *testing.T) {
		env := []string{"SYFT_REGISTRY_INSECURE_USE_HTTP=true", "SYFT_CHECK_FOR_APP_UPDATE=false"}
		out := mustTool(t, home, env, tools.syft, "scan", "-q", "--platform", "linux/amd64", "-o", "syft-json", "registry:"+ref)
		var doc struct {
			Artifacts []struct {
				Name, Version, Type string
			} `json:"artifacts"`
			Distro struct {
				ID string `json:"id"`
			} `json:"distro"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("syft output: %v\n%.2000s", err, out)
		}
		var got []string
		for _, a := range doc.Artifacts {
			if a.Type == "apk" {
				got = append(got, a.Name+"="+a.Version)
			}
		}
		sort.Strings(got)
		want := hicSBOMPackages(t, b.layout, prefix+"/web:2")
		if len(want) == 0 {
			t.Fatal("hic's SBOM of web:2 lists no packages")
		}
		if strings.Join(want, " ") != strings.Join(got, " ") {
			t.Errorf("syft's packages of %s differ from hic's SBOM:\nhic:  %v\nsyft: %v", ref, want, got)
		}

		// syft reading hic's SPDX SBOM finds the distribution (from the
		// purls' distro qualifier).
		sbom := filepath.Join(t.TempDir(), "sbom.spdx.json")
		if err := os.WriteFile(sbom, []byte(hicSBOM(t, b.layout)), 0o644); err != nil {
			t.Fatal(err)
		}
		out = mustTool(t, home, env, tools.syft, "convert", "-q", sbom, "-o", "syft-json")
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("syft convert output: %v\n%.2000s", err, out)
		}
		if doc.Distro.ID != "wolfi" {
			t.Errorf("syft convert of hic's SPDX SBOM: distro %q, want wolfi", doc.Distro.ID)
		}
	})

	t.Run("containers-image-policy", func(t *testing.T) {
		cfg := t.TempDir()
		policy := func(key, scope string) string {
			p := filepath.Join(cfg, "policy-"+filepath.Base(key)+".json")
			doc := map[string]any{
				"default": []any{map[string]any{"type": "reject"}},
				"transports": map[string]any{"docker": map[string]any{scope: []any{map[string]any{
					"type": "sigstoreSigned", "keyPath": key, "signedIdentity": map[string]any{"type": "matchRepository"},
				}}}},
			}
			bs, _ := json.Marshal(doc)
			if err := os.WriteFile(p, bs, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		regd := filepath.Join(cfg, "registries.d")
		if err := os.MkdirAll(regd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(regd, "hic.yaml"), fmt.Appendf(nil, "docker:\n  %s:\n    use-sigstore-attachments: true\n", reg), 0o644); err != nil {
			t.Fatal(err)
		}
		copyWith := func(policyFile, src string) (string, error) {
			return runTool(t, home, nil, tools.policyCheck, "--policy", policyFile, "--registries.d", regd, "--insecure", "docker://"+src)
		}
		if out, err := copyWith(policy(b.pub, reg), ref); err != nil || !strings.Contains(out, "accepted") {
			t.Errorf("containers/image under sigstoreSigned/matchRepository rejects %s: %v\n%s", ref, err, out)
		}
		other := filepath.Join(cfg, "other")
		if err := os.MkdirAll(other, 0o755); err != nil {
			t.Fatal(err)
		}
		hicCLI(t, nil, "keygen", "--out", other).must(t, 0)
		if out, err := copyWith(policy(filepath.Join(other, sign.PublicKeyFile), reg), ref); err == nil {
			t.Errorf("containers/image with another key's policy accepted %s\n%s", ref, out)
		}
		// The layout's signatures name "web", not where the image is: the
		// engine rejects them under matchRepository.
		if out, err := copyWith(policy(b.pub, reg), reg+"/unsigned-for-destination/web:2"); err == nil {
			t.Errorf("containers/image accepted a signature naming the catalog repository only\n%s", out)
		}
	})

	t.Run("hic-verify", func(t *testing.T) {
		out := hicCLI(t, nil, "-C", attCatalog, "verify", "--key", b.pub, "--registry", prefix, "web:2").must(t, 0).Stdout
		if !strings.Contains(out, "verified") {
			t.Errorf("hic verify --registry:\n%s", out)
		}
	})

	t.Run("referrer-fallback-tags", func(t *testing.T) {
		resp, err := http.Get("http://" + reg + "/v2/hic/web/tags/list")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tl struct {
			Tags []string `json:"tags"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&tl); err != nil || len(tl.Tags) == 0 {
			t.Fatalf("tags of hic/web: %v, %v", tl.Tags, err)
		}
		fallback := slices.ContainsFunc(tl.Tags, func(tag string) bool {
			return strings.HasPrefix(tag, "sha256-") && !strings.HasSuffix(tag, ".sig") && !strings.HasSuffix(tag, ".att")
		})
		if fallback == referrersAPI {
			t.Errorf("registry with referrers API %v: tags %v (fallback tags only where the API is missing)", referrersAPI, tl.Tags)
		}
	})
}

// walkReferrers calls f for every manifest in oras discover's JSON tree.
func walkReferrers(v any, f func(artifactType, digest string)) {
	switch x := v.(type) {
	case map[string]any:
		if at, ok := x["artifactType"].(string); ok {
			d, _ := x["digest"].(string)
			f(at, d)
		}
		for _, c := range x {
			walkReferrers(c, f)
		}
	case []any:
		for _, c := range x {
			walkReferrers(c, f)
		}
	}
}

// hicSBOM is the linux/amd64 SPDX SBOM of web:2 in the layout.
func hicSBOM(t *testing.T, layoutDir string) string {
	t.Helper()
	for _, r := range layoutReferrers(t, layoutDir) {
		if r.artifactType == "application/spdx+json" && isWebAMD64(t, layoutDir, r.subject) {
			return string(r.payload)
		}
	}
	t.Fatal("no linux/amd64 SBOM of web:2 in the layout")
	return ""
}

func hicSBOMPackages(t *testing.T, layoutDir, what string) []string {
	t.Helper()
	pkgs, err := inspect.SBOMPackages([]byte(hicSBOM(t, layoutDir)))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name+"="+p.Version)
	}
	sort.Strings(out)
	return out
}

// isWebAMD64 reports whether digest is the linux/amd64 manifest of web:2.
func isWebAMD64(t *testing.T, layoutDir, digest string) bool {
	t.Helper()
	var idx struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(blob2(t, filepath.Join(layoutDir, "index.json")), &idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] != "web:2" {
			continue
		}
		alg, hex, _ := strings.Cut(d.Digest, ":")
		var im struct {
			Manifests []struct {
				Digest   string `json:"digest"`
				Platform struct {
					OS, Architecture string
				} `json:"platform"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal(blob2(t, filepath.Join(layoutDir, "blobs", alg, hex)), &im); err != nil {
			t.Fatal(err)
		}
		for _, m := range im.Manifests {
			if m.Digest == digest && m.Platform.Architecture == "amd64" {
				return true
			}
		}
	}
	return false
}
