package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// registryConfig is the smallest distribution v3 configuration hic's tests
// need: filesystem storage, deletes allowed, no auth, loopback only.
const registryConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  headers:
    X-Content-Type-Options: [nosniff]
`

// StartRegistry starts the distribution registry from .tools/bin/registry
// on a free 127.0.0.1 port with its storage in a temporary directory, waits
// until /v2/ answers and stops it when the test ends. It returns host:port.
func StartRegistry(t testing.TB) string {
	t.Helper()
	addr, _ := StartRegistryStorage(t)
	return addr
}

// StartRegistryStorage is StartRegistry that also returns the registry's
// storage root (the filesystem driver's rootdirectory), for tests that
// change what the registry stores behind its back.
func StartRegistryStorage(t testing.TB) (addr, storage string) {
	t.Helper()
	bin := Tool(t, "registry")
	dir := t.TempDir()
	addr = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	cfg := filepath.Join(dir, "config.yml")
	storage = filepath.Join(dir, "storage")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(registryConfig, storage, addr)), 0o644); err != nil {
		t.Fatalf("testenv: write registry config: %v", err)
	}
	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("testenv: registry log: %v", err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// The registry must not pick up settings from the developer's environment.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none", "OTEL_SDK_DISABLED=true"}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("testenv: start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			logFile.Close()
		})
	}
	t.Cleanup(stop)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitHTTP(ctx, "http://"+addr+"/v2/", exited); err != nil {
		if errors.Is(err, errExited) {
			err = fmt.Errorf("%w: %v", err, waitErr)
		}
		stop()
		out, _ := os.ReadFile(logPath)
		t.Fatalf("testenv: registry at %s did not come up: %v\n%s", addr, err, out)
	}
	return addr, storage
}

var errExited = errors.New("registry exited")

// waitHTTP polls url until it answers 200 or 401, the process exits, or ctx ends.
func waitHTTP(ctx context.Context, url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		select {
		case <-exited:
			return errExited
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
