package cli

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// tree is a small command tree: a root with a persistent --config, and a
// command "run" with a value flag, a bool flag and a subcommand "sub".
type tree struct {
	root, run, sub *cobra.Command
	config, path   string
	json           bool
	ran            []string // the command that ran, then its operands
	helped         string   // the command whose help was shown
	stdout         bytes.Buffer
}

func newTree() *tree {
	t := &tree{}
	runE := func(c *cobra.Command, args []string) error {
		t.ran = append([]string{c.Name()}, args...)
		return nil
	}
	t.root = &cobra.Command{Use: "tool", RunE: runE}
	t.root.PersistentFlags().StringVar(&t.config, "config", "", "a file")
	t.run = &cobra.Command{Use: "run [--path P] [--json] ARG...", RunE: runE}
	t.run.Flags().StringVar(&t.path, "path", "", "a path")
	t.run.Flags().BoolVar(&t.json, "json", false, "JSON")
	t.sub = &cobra.Command{Use: "sub", RunE: runE}
	t.run.AddCommand(t.sub)
	t.root.AddCommand(t.run)
	t.root.SetHelpFunc(func(c *cobra.Command, _ []string) { t.helped = c.Name() })
	t.root.SetOut(&t.stdout)
	t.root.SetErr(&t.stdout)
	Setup(t.root, func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w", c.Name(), err)
	})
	return t
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"-config f run", "--config f run"},
		{"--config=f -config=g run", "--config=f --config=g run"},
		{"run -path -json -json", "run --path -json --json"},
		{"run -json=false a -path b", "run --json=false a -path b"},
		{"-config run run -json", "--config run run --json"},
		{"run -- -json", "run -- -json"},
		{"-- run -json", "run --json"},
		{"-- nosuch -json", "-- nosuch -json"},
		{"run sub -config f", "run sub --config f"},
		{"-h run -json", "-h"},
		{"run -json -help -bogus", "run --json --help"},
		{"-x -bogus=1 ---y", "-x --bogus=1 ---y"},
		{"run - -json", "run - -json"},
	} {
		tr := newTree()
		got := strings.Join(Normalize(tr.root, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Normalize(newTree().root, nil); got == nil {
		t.Error("Normalize(nil) is nil: cobra would read os.Args")
	}
}

func TestExecute(t *testing.T) {
	for _, tc := range []struct {
		args   string
		ran    []string
		helped string
		err    string
	}{
		{args: "", ran: []string{"tool"}},
		{args: "-config f run -json a -json", ran: []string{"run", "a", "-json"}},
		{args: "run sub", ran: []string{"sub"}},
		{args: "run -h", helped: "run"},
		{args: "-help", helped: "tool"},
		{args: "run -bogus", err: "run: flag provided but not defined: -bogus"},
		{args: "run -x", err: "run: flag provided but not defined: -x"},
		{args: "run --path", err: "run: flag needs an argument: -path"},
		{args: "run --json=maybe", err: `run: invalid boolean value "maybe" for -json: parse error`},
		{args: "run ---json", err: "run: bad flag syntax: ---json"},
		{args: "completion bash", err: `unknown command "completion" for "tool"`},
	} {
		tr := newTree()
		c, err := Execute(tr.root, strings.Fields(tc.args))
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case !slices.Equal(tr.ran, tc.ran) || tr.helped != tc.helped:
			t.Errorf("%q: ran %q, helped %q; want %q, %q (command %s)", tc.args, tr.ran, tr.helped, tc.ran, tc.helped, c.Name())
		}
		if tr.stdout.Len() != 0 {
			t.Errorf("%q: cobra printed %q", tc.args, tr.stdout.String())
		}
	}
}

func TestGoFlagError(t *testing.T) {
	var n uint
	c := &cobra.Command{Use: "x"}
	c.Flags().UintVar(&n, "n", 0, "a number")
	for _, tc := range []struct{ in, want string }{
		{"--n=x", `invalid value "x" for flag -n: parse error`},
		{"--n=-1", `invalid value "-1" for flag -n: parse error`},
		{"--n=99999999999999999999999", `invalid value "99999999999999999999999" for flag -n: value out of range`},
	} {
		err := GoFlagError(c.Flags().Parse([]string{tc.in}))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
	other := errors.New("other")
	if GoFlagError(other) != other {
		t.Error("GoFlagError changed an error that is not pflag's")
	}
}

func TestFlagUsages(t *testing.T) {
	tr := newTree()
	u := FlagUsages(tr.run)
	for _, want := range []string{"--config string", "--json", "--path string"} {
		if !strings.Contains(u, want) {
			t.Errorf("FlagUsages lacks %q:\n%s", want, u)
		}
	}
	if strings.Contains(u, "help") {
		t.Errorf("FlagUsages lists the help flag:\n%s", u)
	}
}
