package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/ctr"
	"github.com/spf13/pflag"
)

// buildEncbench builds the command into a temporary directory and returns
// the binary's path.
func buildEncbench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "encbench")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build encbench: %v", err)
	}
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestQuickEndToEnd runs 'encbench --quick' through the built binary (in
// -short mode with rounds, duration and sizes cut further, the same code
// path) and checks what it prints and writes.
func TestQuickEndToEnd(t *testing.T) {
	bin := buildEncbench(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report")
	args := []string{"--quick", "--out", out, "--dir", filepath.Join(dir, "scratch")}
	if testing.Short() {
		args = append(args, "--rounds", "3", "--duration", "3ms", "--sizes", "64,4KiB", "--slice-rounds", "3", "--slice", "3ms", "--slice-rounds-max", "5", "--slice-budget", "200ms")
	}
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("encbench %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr is not a terminal, yet encbench wrote to it:\n%s", stderr.String())
	}
	for _, want := range []string{"aes128-ctr", "sm4-ctr", "crypto/cipher", "gmsm", "reports written to " + out} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}

	f, err := os.Open(filepath.Join(out, jsonFile))
	if err != nil {
		t.Fatal(err)
	}
	res, err := bench.ReadResult(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Options.Preset != bench.PresetQuick {
		t.Errorf("preset %q, want quick", res.Options.Preset)
	}
	// Every quick workload measured every method it applies to, and no
	// other workload ran.
	seen := map[string]bool{}
	for _, f := range res.Figures {
		seen[f.Workload+" "+f.Method] = true
		if !slices.Contains(bench.QuickWorkloads(), f.Workload) {
			t.Errorf("a quick run measured %s", f.Workload)
		}
	}
	for _, w := range bench.QuickWorkloads() {
		for _, m := range bench.QuickMethods() {
			raw := w == bench.RandomRead || w == bench.Parallel
			if raw && m == ctr.Plaintext {
				continue
			}
			if !seen[w+" "+m.String()] {
				t.Errorf("no figure for %s on %v", w, m)
			}
		}
	}

	rows, err := csv.NewReader(mustOpen(t, filepath.Join(out, csvFile))).ReadAll()
	if err != nil || len(rows) != len(res.Figures)+1 {
		t.Errorf("CSV: %d rows for %d figures (%v)", len(rows), len(res.Figures), err)
	}
	md, err := os.ReadFile(filepath.Join(out, markdownFile))
	if err != nil || !bytes.Contains(md, []byte(chartPNG)) || !bytes.Contains(md, []byte("sm4-ctr")) {
		t.Errorf("Markdown report: %v\n%s", err, md)
	}
	img, err := png.Decode(mustOpen(t, filepath.Join(out, chartPNG)))
	if err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("PNG chart: %v", err)
	}
	svg, err := os.ReadFile(filepath.Join(out, chartSVG))
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("SVG chart: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "scratch")); len(left) > 1 {
		// The master key file may stay; the workloads' data may not.
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("scratch directory left with %v", names)
	}

	// A run compared with itself: every figure, nothing significant.
	cmp := exec.Command(bin, "compare", filepath.Join(out, jsonFile), filepath.Join(out, jsonFile))
	cmpOut, err := cmp.CombinedOutput()
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, cmpOut)
	}
	if !strings.Contains(string(cmpOut), "~") {
		t.Errorf("a run compared with itself shows no unchanged figure:\n%s", cmpOut)
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestBadFlags checks every bad command line is one clear error on stderr,
// with exit status 2, before anything is measured.
func TestBadFlags(t *testing.T) {
	notResult := filepath.Join(t.TempDir(), "not.json")
	if err := os.WriteFile(notResult, []byte(`{"schema": 99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		{"unknown method", []string{"--methods", "aes128-ctr,rot13"}, exitUsage, []string{`"rot13"`, "plaintext", "aes128-ctr", "aes192-ctr", "aes256-ctr", "sm4-ctr"}},
		{"unknown workload", []string{"--workloads", "compaction"}, exitUsage, append([]string{`"compaction"`}, bench.Workloads...)},
		{"bad size", []string{"--sizes", "64,4Q"}, exitUsage, []string{`"4Q"`, "valid:"}},
		{"size zero", []string{"--sizes", "0"}, exitUsage, []string{`"0"`}},
		{"size too large", []string{"--sizes", "1G"}, exitUsage, []string{`"1G"`, "64 MiB"}},
		{"size too large in KB", []string{"--sizes", "68000KB"}, exitUsage, []string{`"68000KB"`, "64 MiB"}},
		{"ambiguous size", []string{"--sizes", "64,4K"}, exitUsage, []string{`"4K"`, "KB", "KiB"}},
		{"quick and full", []string{"--quick", "--full"}, exitUsage, []string{"--quick and --full"}},
		{"negative duration", []string{"--duration", "-1s"}, exitUsage, []string{"--duration"}},
		{"unparsable duration", []string{"--duration", "soon"}, exitUsage, []string{"duration"}},
		{"zero rounds", []string{"--rounds", "0"}, exitUsage, []string{"--rounds"}},
		{"zero slice", []string{"--slice", "0s"}, exitUsage, []string{"--slice"}},
		{"zero slice rounds", []string{"--slice-rounds", "0"}, exitUsage, []string{"--slice-rounds"}},
		{"negative slice rounds max", []string{"--slice-rounds-max", "-1"}, exitUsage, []string{"--slice-rounds-max"}},
		{"negative slice budget", []string{"--slice-budget", "-1s"}, exitUsage, []string{"--slice-budget"}},
		{"zero threads", []string{"--threads", "0"}, exitUsage, []string{"--threads"}},
		{"unknown flag", []string{"--fast"}, exitUsage, []string{"fast"}},
		{"stray argument", []string{"run"}, exitUsage, []string{`"run"`}},
		{"compare without files", []string{"compare"}, exitUsage, []string{"two result files"}},
		{"compare one file", []string{"compare", notResult}, exitUsage, []string{"two result files"}},
		{"compare bad alpha", []string{"compare", "--alpha", "2", notResult, notResult}, exitUsage, []string{"--alpha"}},
		{"compare missing file", []string{"compare", filepath.Join(t.TempDir(), "missing.json"), notResult}, exitFailure, []string{"missing.json"}},
		{"compare not a result", []string{"compare", notResult, notResult}, exitFailure, []string{"not.json", "schema"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("a failed command printed to stdout:\n%s", stdout.String())
			}
		})
	}
}

// parse reads a run's command line as encbench does, without running it.
func parse(t *testing.T, args ...string) (bench.Config, string, error) {
	t.Helper()
	var s settings
	fs := pflag.NewFlagSet("encbench", pflag.ContinueOnError)
	s.define(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return s.config(fs)
}

// TestFlagsOverridePreset checks explicit flags win over the preset and
// the preset fills in the rest.
func TestFlagsOverridePreset(t *testing.T) {
	cfg, out, err := parse(t, "--quick", "--methods", "sm4-ctr", "--sizes", "4KiB", "--rounds", "7", "--threads", "3", "--slice", "7ms", "--slice-rounds", "9", "--slice-rounds-max", "11", "--slice-budget", "3s", "--out", "x")
	if err != nil {
		t.Fatal(err)
	}
	q := bench.QuickConfig()
	if !slices.Equal(cfg.Methods, []ctr.Method{ctr.SM4CTR}) || !slices.Equal(cfg.Sizes, []int{4096}) || cfg.Rounds != 7 || cfg.Threads != 3 ||
		cfg.Slice != 7*time.Millisecond || cfg.SliceRounds != 9 || cfg.SliceRoundsMax != 11 || cfg.SliceBudget != 3*time.Second || out != "x" {
		t.Errorf("flags not applied: %+v, out %q", cfg, out)
	}
	if cfg.Duration != q.Duration || cfg.Preset != bench.PresetQuick || cfg.PebbleKeys != q.PebbleKeys {
		t.Errorf("preset not kept: %+v", cfg)
	}
	if !slices.Equal(cfg.Workloads, bench.QuickWorkloads()) {
		t.Errorf("quick workloads %v, want %v", cfg.Workloads, bench.QuickWorkloads())
	}
	if cfg, _, err = parse(t, "--quick", "--workloads", "all"); err != nil || !slices.Equal(cfg.Workloads, bench.Workloads) {
		t.Errorf("--quick --workloads all: %v, %v", cfg.Workloads, err)
	}
	if cfg, _, err = parse(t, "--quick"); err != nil || !slices.Equal(cfg.Methods, bench.QuickMethods()) || cfg.SliceRoundsMax != q.SliceRoundsMax || cfg.SliceBudget != q.SliceBudget {
		t.Errorf("--quick alone: methods %v, at most %d rounds within %v (%v)", cfg.Methods, cfg.SliceRoundsMax, cfg.SliceBudget, err)
	}
	if cfg, _, err = parse(t, "--quick", "--methods", "all"); err != nil || !slices.Equal(cfg.Methods, ctr.Methods) {
		t.Errorf("--quick --methods all: %v, %v", cfg.Methods, err)
	}
	cfg, _, err = parse(t)
	if err != nil || cfg.Preset != "" || !slices.Equal(cfg.Workloads, bench.Workloads) || !slices.Equal(cfg.Methods, ctr.Methods) {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
}
