// Command encbench measures what encryption at rest costs on this machine,
// per method: raw keystream speed and cycles per byte, 4 KiB random-read
// latency, the parallel path's scaling, encrypted files through the file
// dictionary, and Pebble on the encrypted file system. Each figure is
// measured against a baseline in the same rounds: crypto/cipher (AES) or
// gmsm (SM4) for the raw cipher, plaintext for the workloads.
//
// Usage:
//
//	encbench [flags]                 run and write a report
//	encbench compare OLD.json NEW.json  what changed between two runs
//
// A run prints a table on stdout (and a progress bar on stderr when it is
// a terminal) and writes encbench.json, encbench.csv, report.md,
// chart.png and chart.svg to --out (by default results/<host>-<date>/).
//
// Flags:
//
//	--quick           a short run, about two minutes on two cores: plaintext,
//	                  aes128-ctr and sm4-ctr unless --methods names others, the
//	                  cipher, file and Pebble v2 workloads unless --workloads does
//	--full            the long run committed to results/
//	--methods LIST    methods to measure (default all; --quick's three): plaintext, aes128-ctr, aes192-ctr, aes256-ctr, sm4-ctr
//	--sizes LIST      stream buffer sizes, e.g. 64,4KiB,1MiB (KB = 1000 bytes, KiB = 1024)
//	--workloads LIST  workloads (default all): stream, random-read, parallel, file-write, file-read, pebble-fillseq, pebble-fillrandom, pebble-readrandom, and the same three of pebblev1- (Pebble v1) and leveldb- (goleveldb)
//	--duration D      time per round of each figure, e.g. 100ms
//	--rounds N        rounds per figure of the cipher workloads (6 or more for a 95% interval)
//	--slice D         one arm's slice in the file and engine workloads, e.g. 20ms
//	--slice-rounds N  rounds of slices in the file and engine workloads
//	--slice-rounds-max N, --slice-budget D
//	                  rounds past --slice-rounds for the figures still noisy, and
//	                  the time they may take per workload
//	--threads N       the parallel workload's largest thread count
//	--out DIR         where the reports go
//	--dir DIR         scratch directory for the file and Pebble workloads
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/report"
	"github.com/atrest/atrest/bench/stats"
	"github.com/atrest/atrest/cmd/internal/cli"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes: a bad command line is told apart from a run that failed.
const (
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks command-line errors.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, with its streams passed in so that tests can
// drive it; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	_, err := cli.Execute(newCommand(ctx, stdout, stderr), args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "encbench:", err)
		fmt.Fprintln(stderr, "run 'encbench -h' for the flags")
		return exitUsage
	}
	fmt.Fprintln(stderr, "encbench:", err)
	return exitFailure
}

// newCommand returns encbench's command tree: a run, and compare.
func newCommand(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	var s settings
	root := &cobra.Command{
		Use: "encbench",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, out, err := s.config(c.Flags())
			if err != nil {
				return err
			}
			return measure(ctx, cfg, out, stdout, stderr)
		},
	}
	s.define(root.Flags())
	root.AddCommand(compareCommand(stdout))
	// Help goes to standard error, as the standard flag package wrote it.
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { printHelp(stderr, c) })
	cli.Setup(root, func(c *cobra.Command, err error) error {
		// The error, then the help, as the standard flag package wrote
		// them; run adds the error line.
		fmt.Fprintln(stderr, err)
		printHelp(stderr, c)
		return fmt.Errorf("%w: %w", errUsage, err)
	})
	return root
}

// printHelp writes c's synopsis and flags to w.
func printHelp(w io.Writer, c *cobra.Command) {
	if c.HasParent() {
		fmt.Fprintf(w, "usage: %s\n\nflags:\n", c.UseLine())
	} else {
		fmt.Fprintln(w, "usage: encbench [flags]\n       encbench compare OLD.json NEW.json\n\nflags:")
	}
	fmt.Fprint(w, cli.FlagUsages(c))
}

// settings are the command line of a run.
type settings struct {
	quick, full               bool
	methods, sizes, workloads string
	duration, slice           time.Duration
	rounds, sliceRounds       int
	sliceRoundsMax            int
	sliceBudget               time.Duration
	threads                   int
	out, scratch              string
}

// define defines a run's flags on fs.
func (s *settings) define(fs *pflag.FlagSet) {
	fs.BoolVar(&s.quick, "quick", false, "a short run, about two minutes on two cores: plaintext, aes128-ctr and sm4-ctr unless --methods names others; the cipher, file and Pebble v2 workloads unless --workloads does")
	fs.BoolVar(&s.full, "full", false, "the long run committed to results/")
	fs.StringVar(&s.methods, "methods", "all", "comma-separated methods: plaintext, aes128-ctr, aes192-ctr, aes256-ctr, sm4-ctr, or all (--quick: plaintext, aes128-ctr, sm4-ctr unless given)")
	fs.StringVar(&s.sizes, "sizes", "", "comma-separated stream buffer sizes in bytes or with a unit, e.g. 64,4KiB,1MiB; KB = 1000 bytes, KiB = 1024 (default: the preset's)")
	fs.StringVar(&s.workloads, "workloads", "all", "comma-separated workloads: "+strings.Join(bench.Workloads, ", ")+", or all")
	fs.DurationVar(&s.duration, "duration", 0, "time per round of each figure, e.g. 100ms (default: the preset's)")
	fs.IntVar(&s.rounds, "rounds", 0, "rounds per figure of the cipher workloads; 6 or more give a 95% interval (default: the preset's)")
	fs.DurationVar(&s.slice, "slice", 0, "length of one arm's slice in the file and engine workloads, e.g. 20ms (default: the preset's)")
	fs.IntVar(&s.sliceRounds, "slice-rounds", 0, "rounds of slices in the file and engine workloads (default: the preset's)")
	fs.IntVar(&s.sliceRoundsMax, "slice-rounds-max", 0, "most rounds of slices for a file or engine figure still noisy after --slice-rounds (default: the preset's)")
	fs.DurationVar(&s.sliceBudget, "slice-budget", 0, "time each file or engine workload may spend past --slice-rounds on figures still noisy, e.g. 10s; 0 for no limit but --slice-rounds-max (default: the preset's)")
	fs.IntVar(&s.threads, "threads", 0, "largest thread count of the parallel workload (default: the number of CPUs)")
	fs.StringVar(&s.out, "out", "", "directory for the reports (default results/<host>-<date>)")
	fs.StringVar(&s.scratch, "dir", "", "scratch directory for the file and Pebble workloads (default: a temporary directory)")
}

// config turns the flags parsed into fs into a bench.Config and the
// output directory: the preset first, then every flag given explicitly on
// top of it.
func (s *settings) config(fs *pflag.FlagSet) (bench.Config, string, error) {
	cfg := bench.DefaultConfig()
	switch {
	case s.quick && s.full:
		return cfg, "", fmt.Errorf("%w: --quick and --full exclude each other", errUsage)
	case s.quick:
		cfg = bench.QuickConfig()
	case s.full:
		cfg = bench.FullConfig()
	}
	var err error
	if fs.Changed("methods") || !s.quick {
		if cfg.Methods, err = bench.ParseMethods(s.methods); err != nil {
			return cfg, "", fmt.Errorf("%w: --methods: %w", errUsage, err)
		}
	}
	if fs.Changed("workloads") || !s.quick {
		if cfg.Workloads, err = bench.ParseWorkloads(s.workloads); err != nil {
			return cfg, "", fmt.Errorf("%w: --workloads: %w", errUsage, err)
		}
	}
	if fs.Changed("sizes") {
		if cfg.Sizes, err = bench.ParseSizes(s.sizes); err != nil {
			return cfg, "", fmt.Errorf("%w: --sizes: %w", errUsage, err)
		}
	}
	positive := func(d time.Duration) bool { return d > 0 }
	notNegative := func(d time.Duration) bool { return d >= 0 }
	atLeastOne := func(n int) bool { return n >= 1 }
	for _, err := range []error{
		override(fs, "duration", s.duration, positive, "be more than 0", &cfg.Duration),
		override(fs, "rounds", s.rounds, atLeastOne, "be at least 1", &cfg.Rounds),
		override(fs, "slice", s.slice, positive, "be more than 0", &cfg.Slice),
		override(fs, "slice-rounds", s.sliceRounds, atLeastOne, "be at least 1", &cfg.SliceRounds),
		override(fs, "slice-rounds-max", s.sliceRoundsMax, func(n int) bool { return n >= 0 }, "not be negative", &cfg.SliceRoundsMax),
		override(fs, "slice-budget", s.sliceBudget, notNegative, "not be negative", &cfg.SliceBudget),
		override(fs, "threads", s.threads, atLeastOne, "be at least 1", &cfg.Threads),
	} {
		if err != nil {
			return cfg, "", err
		}
	}
	cfg.Dir = s.scratch
	return cfg, s.out, nil
}

// measure is a run: measure, print the table, write the reports to out.
func measure(ctx context.Context, cfg bench.Config, out string, stdout, stderr io.Writer) error {
	if isTerminal(stderr) {
		var bar *progressbar.ProgressBar
		cfg.Progress = func(done, total int, step string) {
			if bar == nil {
				bar = progressbar.NewOptions(total,
					progressbar.OptionSetWriter(stderr),
					progressbar.OptionSetWidth(30),
					progressbar.OptionShowCount(),
					progressbar.OptionSetElapsedTime(true),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionClearOnFinish())
			}
			bar.Describe(fmt.Sprintf("%-40s", step))
			bar.Set(done)
		}
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join("results", fmt.Sprintf("%s-%s", res.Host.Hostname, res.Started.Format("2006-01-02")))
	}
	if err := report.WriteTable(stdout, res); err != nil {
		return err
	}
	if err := writeReports(out, res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nreports written to %s\n", out)
	return nil
}

// The files a run writes into its output directory.
const (
	jsonFile     = "encbench.json"
	csvFile      = "encbench.csv"
	markdownFile = "report.md"
	chartPNG     = "chart.png"
	chartSVG     = "chart.svg"
)

// writeReports writes every report of res into dir.
func writeReports(dir string, res *bench.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	writers := []struct {
		name  string
		write func(io.Writer) error
	}{
		{jsonFile, res.WriteJSON},
		{csvFile, func(w io.Writer) error { return report.WriteCSV(w, res) }},
		{markdownFile, func(w io.Writer) error { return report.WriteMarkdown(w, res, chartPNG) }},
		{chartPNG, func(w io.Writer) error { return report.WriteChart(w, res, "png") }},
		{chartSVG, func(w io.Writer) error { return report.WriteChart(w, res, "svg") }},
	}
	for _, wr := range writers {
		if err := writeFile(filepath.Join(dir, wr.name), wr.write); err != nil {
			return err
		}
	}
	return nil
}

// writeFile creates path and fills it with write, reporting the first
// error of either (a failed close loses data too).
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// compareCommand is 'encbench compare [--alpha A] OLD.json NEW.json'.
func compareCommand(stdout io.Writer) *cobra.Command {
	var alpha float64
	c := &cobra.Command{
		Use: "compare [--alpha A] OLD.json NEW.json",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("%w: compare takes two result files (OLD.json NEW.json), got %d", errUsage, len(args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return compare(args[0], args[1], alpha, stdout)
		},
	}
	c.Flags().Float64Var(&alpha, "alpha", stats.DefaultAlpha, "significance level of the Mann-Whitney U test")
	return c
}

// compare prints what changed from the run in the result file oldPath to
// the one in newPath.
func compare(oldPath, newPath string, alpha float64, stdout io.Writer) error {
	if alpha <= 0 || alpha >= 1 {
		return fmt.Errorf("%w: --alpha %v: must lie between 0 and 1", errUsage, alpha)
	}
	var results [2]*bench.Result
	for i, path := range []string{oldPath, newPath} {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		results[i], err = bench.ReadResult(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return report.WriteComparison(stdout, bench.CompareResults(results[0], results[1], alpha))
}

// isTerminal reports whether w is a terminal (the progress bar's test).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// override sets *dst to v if the flag name was given, once valid accepts
// it; otherwise it says the flag must obey rule.
func override[T any](fs *pflag.FlagSet, name string, v T, valid func(T) bool, rule string, dst *T) error {
	if !fs.Changed(name) {
		return nil
	}
	if !valid(v) {
		return fmt.Errorf("%w: --%s %v: must %s", errUsage, name, v, rule)
	}
	*dst = v
	return nil
}
