package universe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxIndexSize bounds what Fetch reads: Alpine's largest index is a few MB.
const maxIndexSize = 64 << 20

// IndexURL is where an APK repository serves the index of arch.
func IndexURL(repoURL, arch string) string {
	return strings.TrimSuffix(repoURL, "/") + "/" + arch + "/APKINDEX.tar.gz"
}

// SourceName is the @source name of a repository URL: its last path
// element ("https://dl-cdn.alpinelinux.org/alpine/v3.23/community" ->
// "community", "https://packages.wolfi.dev/os" -> "os").
func SourceName(repoURL string) string {
	return path.Base(strings.TrimSuffix(repoURL, "/"))
}

// Fetch reads an index or key from an https URL with client, or from a
// local file when location is not a URL.
func Fetch(ctx context.Context, client *http.Client, location string) ([]byte, error) {
	if !strings.Contains(location, "://") {
		b, err := os.ReadFile(filepath.Clean(location))
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	if !strings.HasPrefix(location, "https://") {
		return nil, fmt.Errorf("%s: only https URLs are fetched", location)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", location, res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", location, err)
	}
	if len(b) > maxIndexSize {
		return nil, errors.New("GET " + location + ": larger than 64 MiB")
	}
	return b, nil
}
