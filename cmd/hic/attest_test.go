package main

// Acceptance test of issue 5: hic build signs and pushes a small catalog to a
// real distribution registry, the real cosign CLI verifies the image
// signatures and SLSA provenance of each image, hic verify passes on them
// (layout and registry), and fails, naming the check, on tampered copies.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/testenv"
	"github.com/hic-build/hic/compiler/verify"
)

const (
	attCatalog = "testdata/attest/catalog"
	attToday   = "2026-11-27"
)

// attSpecs are the specs of attCatalog and one tag of each.
var attSpecs = []struct{ spec, tag string }{
	{"tool:1.4-alpine-3.23-dev", "tool:1.4-alpine3.23-dev"},
	{"tool:1.4-alpine-3.23-runtime", "tool:1.4-alpine3.23"},
	{"web:2-wolfi-dev", "web:2-dev"},
	{"web:2-wolfi-runtime", "web:2"},
}

func TestAttestSignPushVerify(t *testing.T) {
	cosign := testenv.Tool(t, "cosign")
	reg := testenv.StartRegistry(t)
	dir := t.TempDir()
	keys, other := filepath.Join(dir, "keys"), filepath.Join(dir, "other")
	for _, d := range []string{keys, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		hicCLI(t, nil, "keygen", "--out", d).must(t, 0)
	}
	pub := filepath.Join(keys, sign.PublicKeyFile)
	mirror, out := filepath.Join(dir, "mirror"), filepath.Join(dir, "out")
	hicCLI(t, nil, "-C", attCatalog, "mirror", "--out", mirror).must(t, 0)
	build := []string{"-C", attCatalog, "build", "--all", "--mirrors", mirror, "--today", attToday, "--jobs", "2"}

	t.Run("key required", func(t *testing.T) {
		if r := hicCLI(t, nil, append(build, "--out", filepath.Join(dir, "nokey"))...); r.Code != exitUsage || !strings.Contains(r.Stderr, "--unsigned") {
			t.Errorf("build without a key: %s\nwant exit %d and a hint at --unsigned", r, exitUsage)
		}
		if r := hicCLI(t, nil, append(build, "--out", filepath.Join(dir, "nokey"), "--unsigned", "--key", filepath.Join(keys, sign.PrivateKeyFile))...); r.Code != exitUsage {
			t.Errorf("--unsigned with --key: %s\nwant exit %d", r, exitUsage)
		}
		uns := filepath.Join(dir, "unsigned")
		hicCLI(t, nil, append(build, "--out", uns, "--unsigned")...).must(t, 0)
		r, err := report.ReadReport(filepath.Join(uns, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Signed || r.KeyID != "" {
			t.Errorf("unsigned build: report says signed %v key %q", r.Signed, r.KeyID)
		}
		if v := hicCLI(t, nil, "-C", attCatalog, "verify", "web:2", "--layout", filepath.Join(uns, "oci"), "--key", pub); v.Code != exitFindings || !strings.Contains(v.Stdout, "FAIL  image-signature") {
			t.Errorf("verify of an unsigned image: exit %d, want 1 and a failed image-signature\n%s", v.Code, v.Stdout)
		}
	})

	// The signed build, key from the environment, pushed to the registry.
	env := map[string]string{"HIC_SIGNING_KEY": filepath.Join(keys, sign.PrivateKeyFile)}
	stdout := hicCLI(t, env, append(build, "--out", out, "--push", reg+"/hic")...).must(t, 0).Stdout
	if !strings.Contains(stdout, "pushed 4 images of 4 specs") {
		t.Errorf("build --push output:\n%s", stdout)
	}
	r, err := report.ReadReport(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Signed || r.KeyID == "" {
		t.Errorf("signed build: report says signed %v key %q", r.Signed, r.KeyID)
	}
	digests := map[string]string{}
	for _, s := range r.Specs {
		digests[s.Ref] = s.ImageDigest
	}

	t.Run("cosign", func(t *testing.T) {
		flags := []string{"--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry"}
		home := t.TempDir()
		for _, s := range attSpecs {
			ref := reg + "/hic/" + s.tag
			if o, err := attCosign(t, cosign, home, append([]string{"verify"}, append(flags, ref)...)...); err != nil {
				t.Errorf("cosign verify %s: %v\n%s", ref, err, o)
			} else if !strings.Contains(o, digests[s.spec]) {
				t.Errorf("cosign verify %s does not name %s\n%s", ref, digests[s.spec], o)
			}
			if o, err := attCosign(t, cosign, home, append([]string{"verify-attestation", "--type", "slsaprovenance1"}, append(flags, ref)...)...); err != nil {
				t.Errorf("cosign verify-attestation %s: %v\n%s", ref, err, o)
			}
		}
		// Another key is refused.
		bad := append([]string{"verify", "--key", filepath.Join(other, sign.PublicKeyFile)}, flags[2:]...)
		if o, err := attCosign(t, cosign, home, append(bad, reg+"/hic/web:2")...); err == nil {
			t.Errorf("cosign verify with another key succeeded\n%s", o)
		}
	})

	// A tag moved to another repository's image, signatures and all: hic
	// attestations refuses its statements (exit 1) and writes nothing,
	// where it had verified and written web's SBOMs as tool's. (From an
	// outside review.)
	t.Run("moved tag", func(t *testing.T) {
		moved := filepath.Join(t.TempDir(), "oci")
		bldCopyDir(t, filepath.Join(out, "oci"), moved)
		p, err := layout.FromPath(moved)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := p.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var web *v1.Descriptor
		for i, m := range im.Manifests {
			if m.Annotations["org.opencontainers.image.ref.name"] == "web:2" {
				web = &im.Manifests[i]
			}
		}
		if web == nil {
			t.Fatal("no web:2 in the layout")
		}
		for i, m := range im.Manifests {
			if m.Annotations["org.opencontainers.image.ref.name"] == "tool:1.4-alpine3.23" {
				im.Manifests[i].Digest, im.Manifests[i].Size = web.Digest, web.Size
			}
		}
		b, err := json.Marshal(im)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(moved, "index.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		files := filepath.Join(t.TempDir(), "att")
		r := hicCLI(t, nil, "-C", attCatalog, "attestations", "tool:1.4-alpine3.23", "--layout", moved, "--key", pub, "--out", files)
		if r.Code != exitFindings || !strings.Contains(r.Stderr, "they are about the image of web, not of tool") {
			t.Errorf("attestations of a moved tag: %s\nwant exit %d naming web", r, exitFindings)
		}
		if ents, _ := os.ReadDir(files); len(ents) > 0 {
			t.Errorf("attestations of a moved tag wrote %d files", len(ents))
		}
		hicCLI(t, nil, "-C", attCatalog, "attestations", "web:2", "--layout", moved, "--key", pub, "--out", files).must(t, 0)
	})

	t.Run("hic verify", func(t *testing.T) {
		for _, s := range attSpecs {
			o := hicCLI(t, nil, "-C", attCatalog, "verify", s.spec, "--layout", filepath.Join(out, "oci"), "--key", pub).must(t, 0).Stdout
			if !strings.Contains(o, "verified: 12 checks passed") {
				t.Errorf("verify %s (layout):\n%s", s.spec, o)
			}
			o = hicCLI(t, nil, "-C", attCatalog, "verify", s.tag, "--registry", reg+"/hic", "--key", pub).must(t, 0).Stdout
			if !strings.Contains(o, "ok  tag") || !strings.Contains(o, digests[s.spec]) {
				t.Errorf("verify %s (registry):\n%s", s.tag, o)
			}
		}
		// A spec ref against the registry, a full reference, JSON, rebuild.
		hicCLI(t, nil, "-C", attCatalog, "verify", "web:2-wolfi-runtime", "--registry", reg+"/hic", "--key", pub).must(t, 0)
		hicCLI(t, nil, "-C", attCatalog, "verify", reg+"/hic/tool:1.4-alpine3.23", "--key", pub).must(t, 0)
		hicCLI(t, nil, "-C", attCatalog, "verify", reg+"/hic/tool@"+digests["tool:1.4-alpine-3.23-runtime"], "--registry", "-", "--key", pub).must(t, 0)
		o := hicCLI(t, nil, "-C", attCatalog, "verify", "tool:1.4-alpine3.23-dev", "--layout", filepath.Join(out, "oci"), "--key", pub, "--format", "json", "--rebuild", "--mirrors", mirror).must(t, 0).Stdout
		var res verify.Result
		if err := json.Unmarshal([]byte(o), &res); err != nil {
			t.Fatalf("verify --format json: %v\n%s", err, o)
		}
		var names []string
		for _, c := range res.Checks {
			names = append(names, c.Name)
		}
		want := []string{"blobs", "image-signature", "attestation-signatures", "attestation-subjects", "sbom", "provenance-packages", "provenance-spec", "config", "filesystem", "hardening", "vex", "tag", "rebuild"}
		if !res.OK || !slices.Equal(names, want) || res.Digest != digests["tool:1.4-alpine-3.23-dev"] || res.Spec != "tool:1.4-alpine-3.23-dev" {
			t.Errorf("verify --format json: ok %v checks %v (want %v) digest %s spec %s", res.OK, names, want, res.Digest, res.Spec)
		}
		// Another key fails every signature check.
		v := hicCLI(t, nil, "-C", attCatalog, "verify", "web:2", "--layout", filepath.Join(out, "oci"), "--key", filepath.Join(other, sign.PublicKeyFile))
		if v.Code != exitFindings || !strings.Contains(v.Stdout, "FAIL  image-signature") || !strings.Contains(v.Stdout, "FAIL  attestation-signatures") {
			t.Errorf("verify with another key: exit %d\n%s", v.Code, v.Stdout)
		}
	})

	signer, err := sign.LoadSigner(filepath.Join(keys, sign.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	otherSigner, err := sign.LoadSigner(filepath.Join(other, sign.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	webIdx, _ := v1.NewHash(digests["web:2-wolfi-runtime"])
	toolIdx, _ := v1.NewHash(digests["tool:1.4-alpine-3.23-runtime"])

	cases := []struct {
		name   string
		check  string
		tamper func(t *testing.T, repo name.Repository)
	}{
		{"one byte changed in an attestation", verify.CheckAttestationSignatures, func(t *testing.T, repo name.Repository) {
			attReplaceEnvelope(t, repo, webIdx, attest.PredicateSLSAProvenance, func(env []byte) []byte {
				i := bytes.Index(env, []byte(`"payload":"`)) + len(`"payload":"`) + 200
				out := bytes.Clone(env)
				if out[i] == 'A' {
					out[i] = 'B'
				} else {
					out[i] = 'A'
				}
				return out
			})
		}},
		{"attestation signed by another key", verify.CheckAttestationSignatures, func(t *testing.T, repo name.Repository) {
			attReplaceEnvelope(t, repo, webIdx, attest.PredicateSLSAProvenance, func(env []byte) []byte {
				return attResign(t, otherSigner, attPayload(t, env))
			})
		}},
		{"statement about another image", verify.CheckAttestationSubjects, func(t *testing.T, repo name.Repository) {
			attReplaceEnvelope(t, repo, webIdx, attest.PredicateSLSAProvenance, func(env []byte) []byte {
				var st map[string]any
				if err := json.Unmarshal(attPayload(t, env), &st); err != nil {
					t.Fatal(err)
				}
				for _, s := range st["subject"].([]any) {
					s.(map[string]any)["digest"] = map[string]any{"sha256": toolIdx.Hex}
				}
				b, _ := json.Marshal(st)
				return attResign(t, signer, b)
			})
		}},
		{"SBOM missing a package", verify.CheckSBOM, func(t *testing.T, repo name.Repository) {
			plat := attPlatformDigest(t, repo, webIdx)
			attReplaceEnvelope(t, repo, plat, attest.PredicateSPDX, func(env []byte) []byte {
				var st map[string]any
				if err := json.Unmarshal(attPayload(t, env), &st); err != nil {
					t.Fatal(err)
				}
				pred := st["predicate"].(map[string]any)
				pkgs := pred["packages"].([]any)
				for i, p := range pkgs {
					if p.(map[string]any)["name"] == "pcre2" {
						pred["packages"] = slices.Delete(pkgs, i, i+1)
						break
					}
				}
				if len(pred["packages"].([]any)) == len(pkgs) {
					t.Fatal("SPDX SBOM has no package pcre2")
				}
				b, _ := json.Marshal(st)
				return attResign(t, signer, b)
			})
		}},
		{"tag moved to another image", verify.CheckTag, func(t *testing.T, repo name.Repository) {
			desc, err := remote.Get(repo.Tag("2-dev"))
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Tag(repo.Tag("2"), desc); err != nil {
				t.Fatal(err)
			}
		}},
	}
	// A tag copied into another repository without its signatures is
	// unsigned there, and verify says they may not have been pushed to it,
	// not only that hic build --unsigned makes such images. Copied with its
	// signatures, the tag check names the repository they were made for,
	// once. (From an outside review.)
	t.Run("tag copied to another repository", func(t *testing.T) {
		prefix := reg + "/copied"
		hicCLI(t, nil, "-C", attCatalog, "publish", "--layout", filepath.Join(out, "oci"), prefix, "web:2-wolfi-runtime").must(t, 0)
		from, err := name.NewRepository(prefix + "/web")
		if err != nil {
			t.Fatal(err)
		}
		to, err := name.NewRepository(prefix + "/tool")
		if err != nil {
			t.Fatal(err)
		}
		copyTag := func(tag, as string) {
			desc, err := remote.Get(from.Tag(tag))
			if err != nil {
				t.Fatal(err)
			}
			if desc.MediaType.IsIndex() {
				idx, err := desc.ImageIndex()
				if err != nil {
					t.Fatal(err)
				}
				err = remote.WriteIndex(to.Tag(as), idx)
			} else {
				img, err := desc.Image()
				if err != nil {
					t.Fatal(err)
				}
				err = remote.Write(to.Tag(as), img)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		copyTag("2", "latest")
		v := hicCLI(t, nil, "-C", attCatalog, "verify", "tool:latest", "--registry", prefix, "--key", pub)
		if v.Code != exitFindings || !strings.Contains(v.Stdout, "were not pushed to copied/tool (") {
			t.Errorf("verify of a tag copied without signatures: %s\nwant exit 1 saying they were not pushed there", v)
		}
		tags, err := remote.List(from)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			if strings.HasPrefix(tag, "sha256-") {
				copyTag(tag, tag)
			}
		}
		v = hicCLI(t, nil, "-C", attCatalog, "verify", "tool:latest", "--registry", prefix, "--key", pub)
		if v.Code != exitFindings || !strings.Contains(v.Stdout, "points at an image signed for web\n") {
			t.Errorf("verify of a tag copied with its signatures: %s\nwant the tag check to name web once", v)
		}
	})

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("%s/case%d", reg, i)
			hicCLI(t, nil, "-C", attCatalog, "publish", "--layout", filepath.Join(out, "oci"), prefix, "web:2-wolfi-runtime", "web:2-wolfi-dev").must(t, 0)
			hicCLI(t, nil, "-C", attCatalog, "verify", "web:2", "--registry", prefix, "--key", pub).must(t, 0)
			repo, err := name.NewRepository(prefix + "/web")
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, repo)
			v := hicCLI(t, nil, "-C", attCatalog, "verify", "web:2", "--registry", prefix, "--key", pub, "--format", "json")
			var res verify.Result
			if err := json.Unmarshal([]byte(v.Stdout), &res); err != nil {
				t.Fatalf("%v\n%s", err, v)
			}
			if v.Code != exitFindings || res.OK || !slices.Equal(res.Failed(), []string{tc.check}) {
				t.Errorf("verify after %s: exit %d, failed %v, want exit 1 and only %s failing\n%s", tc.name, v.Code, res.Failed(), tc.check, v.Stdout)
			}
			text := hicCLI(t, nil, "-C", attCatalog, "verify", "web:2", "--registry", prefix, "--key", pub).Stdout
			if !strings.Contains(text, "FAIL  "+tc.check) {
				t.Errorf("text output does not name %s:\n%s", tc.check, text)
			}
		})
	}
}

// attCosign runs the cosign CLI offline (see compiler/attest's cosign test).
func attCosign(t *testing.T, bin, home string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	dead := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	cmd.Env = []string{
		"HOME=" + home, "PATH=/usr/bin:/bin", "DOCKER_CONFIG=" + home, "TUF_ROOT=" + home + "/tuf",
		"HTTPS_PROXY=" + dead, "HTTP_PROXY=" + dead, "NO_PROXY=127.0.0.1,localhost",
	}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// attPayload returns the decoded payload of a DSSE envelope.
func attPayload(t *testing.T, env []byte) []byte {
	t.Helper()
	e, err := sign.ParseEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attResign(t *testing.T, s sign.Signer, statement []byte) []byte {
	t.Helper()
	e, err := sign.SignStatement(context.Background(), s, statement)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attPlatformDigest returns the digest of the first platform manifest of idx.
func attPlatformDigest(t *testing.T, repo name.Repository, idx v1.Hash) v1.Hash {
	t.Helper()
	ii, err := remote.Index(repo.Digest(idx.String()))
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return im.Manifests[0].Digest
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// attReplaceEnvelope rewrites, in the cosign .att tag of subject, the layer
// holding the envelope of predicateType, as an attacker with write access to
// the registry would.
func attReplaceEnvelope(t *testing.T, repo name.Repository, subject v1.Hash, predicateType string, f func([]byte) []byte) {
	t.Helper()
	tag := repo.Tag(subject.Algorithm + "-" + subject.Hex + ".att")
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	done := false
	for i, l := range m.Layers {
		if l.Annotations["predicateType"] != predicateType {
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		env, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		nb := f(env)
		nl := static.NewLayer(nb, l.MediaType)
		if err := remote.WriteLayer(repo, nl); err != nil {
			t.Fatal(err)
		}
		m.Layers[i].Digest, _ = nl.Digest()
		m.Layers[i].Size = int64(len(nb))
		done = true
		break
	}
	if !done {
		t.Fatalf("%s has no %s layer", tag, predicateType)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tag, rawManifest{raw, m.MediaType}); err != nil {
		t.Fatal(err)
	}
}

// TestAttestCatalogSample builds, signs and pushes a sample of the real
// catalog (a runtime spec each of busybox, nginx and python, from a
// generated mirror), then cosign and hic verify each pushed image.
func TestAttestCatalogSample(t *testing.T) {
	cosign := testenv.Tool(t, "cosign")
	reg := testenv.StartRegistry(t)
	dir := t.TempDir()
	// A snapshot, so that catalog edits during the test do not change the
	// compiled specs between build and verify.
	catalog := filepath.Join(dir, "catalog")
	if err := os.CopyFS(catalog, os.DirFS(filepath.Join(testenv.RepoRoot(t), "catalog"))); err != nil {
		t.Fatal(err)
	}
	hicCLI(t, nil, "keygen", "--out", dir).must(t, 0)
	pub := filepath.Join(dir, sign.PublicKeyFile)

	var specs []struct {
		Ref, Image, Distro, Variant, Repository string
		Tags                                    []string
	}
	if err := json.Unmarshal([]byte(hicCLI(t, nil, "-C", catalog, "list", "-o", "json", "busybox", "nginx", "python").must(t, 0).Stdout), &specs); err != nil {
		t.Fatal(err)
	}
	var refs, tags []string
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Variant == "runtime" && s.Distro == "wolfi" && !seen[s.Image] && len(s.Tags) > 0 {
			seen[s.Image] = true
			refs = append(refs, s.Ref)
			tags = append(tags, s.Repository+":"+s.Tags[0])
		}
	}
	if len(refs) != 3 {
		t.Fatalf("want a wolfi runtime spec of busybox, nginx and python in the catalog, got %v", refs)
	}
	mirror, out := filepath.Join(dir, "mirror"), filepath.Join(dir, "out")
	hicCLI(t, nil, append([]string{"-C", catalog, "mirror", "--out", mirror}, refs...)...).must(t, 0)
	hicCLI(t, nil, append([]string{"-C", catalog, "build", "--mirrors", mirror, "--out", out, "--today", attToday,
		"--key", filepath.Join(dir, sign.PrivateKeyFile), "--push", reg + "/catalog"}, refs...)...).must(t, 0)
	flags := []string{"--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry"}
	for i, tag := range tags {
		ref := reg + "/catalog/" + tag
		if o, err := attCosign(t, cosign, dir, append([]string{"verify"}, append(flags, ref)...)...); err != nil {
			t.Errorf("cosign verify %s: %v\n%s", ref, err, o)
		}
		if o, err := attCosign(t, cosign, dir, append([]string{"verify-attestation", "--type", "slsaprovenance1"}, append(flags, ref)...)...); err != nil {
			t.Errorf("cosign verify-attestation %s: %v\n%s", ref, err, o)
		}
		o := hicCLI(t, nil, "-C", catalog, "verify", ref, "--key", pub).must(t, 0).Stdout
		if !strings.Contains(o, "spec "+refs[i]) || !strings.Contains(o, "verified: 12 checks passed") {
			t.Errorf("hic verify %s:\n%s", ref, o)
		}
	}
}

// attPredicate decodes into predicate the predicate of the one signed
// statement of predicateType attached to the image imageDigest of the
// layout under out (OUT/oci).
func attPredicate(t *testing.T, out, imageDigest, predicateType string, predicate any) {
	t.Helper()
	h, err := v1.NewHash(imageDigest)
	if err != nil {
		t.Fatal(err)
	}
	lp := layout.Path(filepath.Join(out, "oci"))
	refs, err := attest.Referrers(t.Context(), lp, h, predicateType)
	if err != nil || len(refs) != 1 {
		t.Fatalf("%s referrers of %s: %v %v", predicateType, imageDigest, refs, err)
	}
	rc, err := lp.Blob(refs[0].Envelope.Digest)
	if err != nil {
		t.Fatal(err)
	}
	env, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	st := struct {
		Predicate any `json:"predicate"`
	}{predicate}
	if err := json.Unmarshal(attPayload(t, env), &st); err != nil {
		t.Fatal(err)
	}
}
