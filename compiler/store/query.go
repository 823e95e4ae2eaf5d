package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Has reports whether an image with the given input digest is stored (and
// its index manifest blob is present), and its index digest.
func (s *Store) Has(inputDigest string) (v1.Hash, bool) {
	if inputDigest == "" {
		return v1.Hash{}, false
	}
	s.mu.Lock()
	if s.byInput == nil || s.byInputGen != s.gen {
		// Rebuilt only after a change: a build of cached specs asks once per
		// spec and would otherwise scan the whole index each time.
		s.byInput = map[string]v1.Hash{}
		for _, d := range s.manifest.Manifests {
			if in := d.Annotations[AnnotationInputDigest]; in != "" && isIndex(d.MediaType) {
				if _, seen := s.byInput[in]; !seen {
					s.byInput[in] = d.Digest
				}
			}
		}
		s.byInputGen = s.gen
	}
	var found *v1.Hash
	if h, ok := s.byInput[inputDigest]; ok {
		found = &h
	}
	s.mu.Unlock()
	if found == nil || !s.complete(*found) {
		return v1.Hash{}, false
	}
	return *found, true
}

// complete reports whether every blob an image index needs is present: the
// index, each child manifest, its config and its layers. A layout that lost a
// blob is then rebuilt by the next build instead of staying broken. It only
// stats the blobs; their digests were checked when they were written.
func (s *Store) complete(h v1.Hash) bool {
	if s.verifiedBefore(h) {
		return true
	}
	b, err := s.Blob(h)
	if err != nil {
		return false
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return false
	}
	for _, d := range idx.Manifests {
		mb, err := s.Blob(d.Digest)
		if err != nil {
			return false
		}
		if d.MediaType.IsIndex() {
			if !s.complete(d.Digest) {
				return false
			}
			continue
		}
		m, err := v1.ParseManifest(bytes.NewReader(mb))
		if err != nil {
			return false
		}
		if !s.hasBlob(m.Config.Digest) {
			return false
		}
		for _, l := range m.Layers {
			if !s.hasBlob(l.Digest) {
				return false
			}
		}
	}
	return true
}

// Lookup returns the stored image of a spec.
func (s *Store) Lookup(specRef string) (Record, bool) {
	for _, r := range s.Records() {
		if r.SpecRef == specRef {
			return r, true
		}
	}
	return Record{}, false
}

// Records lists the stored images, one per spec, ordered by spec ref.
func (s *Store) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	idx := map[string]int{}
	for _, d := range s.manifest.Manifests {
		if !isIndex(d.MediaType) {
			continue
		}
		spec := d.Annotations[AnnotationSpecRef]
		if spec == "" {
			continue // a rejected image (PutRejected), or not hic's
		}
		i, ok := idx[spec]
		if !ok {
			i = len(out)
			idx[spec] = i
			out = append(out, Record{SpecRef: spec, InputDigest: d.Annotations[AnnotationInputDigest],
				Descriptor: v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}})
		}
		if r := d.Annotations[AnnotationRefName]; r != "" {
			out[i].Refs = append(out[i].Refs, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SpecRef < out[j].SpecRef })
	return out
}

// SpecsWithArtifacts lists, sorted, the specs whose stored image has in
// index.json a referrer of one of artifactTypes (a rejected image's
// referrers do not count: they name no spec). The build asks it which specs
// an unsigned build would strip of their signatures and attestations. It
// reads index.json's entries only, no blob.
func (s *Store) SpecsWithArtifacts(artifactTypes ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, d := range s.manifest.Manifests {
		spec := d.Annotations[AnnotationSpecRef]
		if spec == "" || d.ArtifactType == "" || seen[spec] || !slices.Contains(artifactTypes, d.ArtifactType) {
			continue
		}
		seen[spec] = true
		out = append(out, spec)
	}
	sort.Strings(out)
	return out
}

// ArtifactAnnotations maps each spec whose stored image has in index.json a
// referrer of one of artifactTypes to the values, sorted and distinct, of
// annotation on those referrers' entries ("" for an entry without it; a
// rejected image's referrers do not count). The build asks it which key
// signed each spec's signatures and attestations (attest.AnnotationKeyID).
// It reads index.json's entries only, no blob: what it returns is the
// label the entries carry, not a checked signature.
func (s *Store) ArtifactAnnotations(annotation string, artifactTypes ...string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, d := range s.manifest.Manifests {
		spec := d.Annotations[AnnotationSpecRef]
		if spec == "" || d.ArtifactType == "" || !slices.Contains(artifactTypes, d.ArtifactType) {
			continue
		}
		v := d.Annotations[annotation]
		if i, found := slices.BinarySearch(out[spec], v); !found {
			out[spec] = slices.Insert(out[spec], i, v)
		}
	}
	return out
}

// Referrers returns the artifacts in index.json whose subject is subject,
// optionally only those of artifactType, in index.json order.
//
// Only candidates' manifests are read: when subject is an image index of
// the layout, the artifacts the store wrote with the specs that built it
// (and artifacts without a spec); otherwise every artifact, indexed by
// subject once per generation of the index. A build of cached specs asks
// once per spec; reading every referrer per call was quadratic in the
// catalog, and reading all of them once still most of a no-op build.
func (s *Store) Referrers(subject v1.Hash, artifactType string) ([]v1.Descriptor, error) {
	s.mu.Lock()
	if s.bySpec == nil || s.bySpecGen != s.gen {
		s.bySpec = map[string][]v1.Descriptor{}
		s.specsOf = map[v1.Hash][]string{}
		for _, d := range s.manifest.Manifests {
			spec := d.Annotations[AnnotationSpecRef]
			switch {
			case d.ArtifactType != "":
				s.bySpec[spec] = append(s.bySpec[spec], d)
			case isIndex(d.MediaType) && spec != "":
				if !slices.Contains(s.specsOf[d.Digest], spec) {
					s.specsOf[d.Digest] = append(s.specsOf[d.Digest], spec)
				}
			}
		}
		s.bySpecGen = s.gen
	}
	var cands []v1.Descriptor
	specs := s.specsOf[subject]
	if len(specs) > 0 {
		for _, sp := range append(slices.Clone(specs), "") {
			for _, d := range s.bySpec[sp] {
				if artifactType == "" || d.ArtifactType == artifactType {
					cands = append(cands, d)
				}
			}
		}
	}
	idx, gen := s.bySubject, s.gen
	fresh := idx != nil && s.bySubjectGen == gen
	var all []v1.Descriptor
	if len(specs) == 0 && !fresh {
		for _, d := range s.manifest.Manifests {
			if d.ArtifactType != "" {
				all = append(all, d)
			}
		}
	}
	s.mu.Unlock()

	var out []v1.Descriptor
	if len(specs) > 0 {
		for _, d := range cands {
			subj, err := s.subjectOf(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("store: referrer %s: %w", d.Digest, err)
			}
			if subj == subject {
				out = append(out, d)
			}
		}
		sortEntries(out) // the order the store keeps index.json in
		return out, nil
	}
	if !fresh {
		var err error
		if idx, err = s.subjectIndex(gen, all); err != nil {
			return nil, err
		}
	}
	for _, d := range idx[subject] {
		if artifactType == "" || d.ArtifactType == artifactType {
			out = append(out, d)
		}
	}
	return out, nil
}

// IndexReferrers builds now the index of index.json's artifacts by subject
// that Referrers reads for a subject that is not an image index of the
// layout (a platform manifest): the first such call otherwise builds it,
// with every other caller waiting. A build of cached specs calls it in the
// background while it prepares the run.
func (s *Store) IndexReferrers() error {
	s.mu.Lock()
	gen := s.gen
	fresh := s.bySubject != nil && s.bySubjectGen == gen
	var all []v1.Descriptor
	if !fresh {
		for _, d := range s.manifest.Manifests {
			if d.ArtifactType != "" {
				all = append(all, d)
			}
		}
	}
	s.mu.Unlock()
	if fresh {
		return nil
	}
	_, err := s.subjectIndex(gen, all)
	return err
}

// subjectIndex indexes all, the artifacts of index.json at generation gen,
// by subject, once: concurrent callers wait for the one building it (each
// building its own read every referrer's subject once per worker).
func (s *Store) subjectIndex(gen uint64, all []v1.Descriptor) (map[v1.Hash][]v1.Descriptor, error) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	s.mu.Lock()
	idx, fresh := s.bySubject, s.bySubject != nil && s.bySubjectGen == gen
	s.mu.Unlock()
	if fresh {
		return idx, nil
	}
	idx = map[v1.Hash][]v1.Descriptor{}
	for _, d := range all {
		subj, err := s.subjectOf(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("store: referrer %s: %w", d.Digest, err)
		}
		idx[subj] = append(idx[subj], d)
	}
	s.mu.Lock()
	if s.gen == gen {
		s.bySubject, s.bySubjectGen = idx, gen
	}
	s.mu.Unlock()
	return idx, nil
}

// subjectOf returns the subject digest of the referrer manifest h (zero if
// it has none), reading the blob only the first time.
func (s *Store) subjectOf(h v1.Hash) (v1.Hash, error) {
	s.subjMu.Lock()
	subj, ok := s.subjects[h]
	s.subjMu.Unlock()
	if ok {
		return subj, nil
	}
	// A later process reads the subject from the memo while the file is
	// the one it was read from (memo.go); then, as after a read, the
	// subject is remembered for this process (the blob's name is its
	// content's digest): Referrers asks it of every candidate of a spec,
	// once per subject.
	if subj, ok := s.memo.seenSubject(h); ok {
		s.keepSubject(h, subj)
		return subj, nil
	}
	if id, ok := s.blobID(h); ok {
		if subj, ok := s.memo.goodSubject(h, id); ok {
			s.keepSubject(h, subj)
			return subj, nil
		}
	}
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return v1.Hash{}, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return v1.Hash{}, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return v1.Hash{}, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return v1.Hash{}, err
	}
	if m.Subject != nil {
		subj = m.Subject.Digest
	}
	if after, err := f.Stat(); err == nil {
		if id, ok := idOf(before); ok {
			if id2, ok := idOf(after); ok && id == id2 {
				s.memo.markSubject(h, id, subj)
			}
		}
	}
	s.keepSubject(h, subj)
	return subj, nil
}

func (s *Store) keepSubject(h, subj v1.Hash) {
	s.subjMu.Lock()
	defer s.subjMu.Unlock()
	if s.subjects == nil {
		s.subjects = map[v1.Hash]v1.Hash{}
	}
	s.subjects[h] = subj
}

// Blob returns the content of a stored blob.
func (s *Store) Blob(h v1.Hash) ([]byte, error) {
	return s.path.Bytes(h)
}

// ImageIndex returns the stored image index with digest h.
func (s *Store) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	ii, err := s.path.ImageIndex()
	if err != nil {
		return nil, err
	}
	return ii.ImageIndex(h)
}
