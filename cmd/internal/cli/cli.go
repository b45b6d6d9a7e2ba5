// Package cli is the command-line layer encctl and encbench share, on top
// of cobra. Both were first written with the standard flag package, and
// their command lines still read as they did then:
//
//   - -name works as well as --name (pflag alone would read -name as the
//     shorthand letters n, a, m, e);
//   - flags come before a command's operands: parsing stops at the first
//     operand that is not a command's name, so that an operand may start
//     with a dash;
//   - a bad flag is reported in the standard flag package's words
//     ("flag provided but not defined: -x"), which the tools' messages and
//     their users' scripts quote;
//   - -h and --help show a command's help, and the flag is listed nowhere;
//   - cobra prints nothing of its own: no "Error:" line, no usage after an
//     error, no completion command (only cobra's hidden __complete, which
//     a shell's completion script calls, remains). The tools print their
//     errors and help themselves;
//   - commands are listed in the order they were added, not sorted.
//
// A tool builds its command tree, calls Setup once every command is added,
// then Execute with its arguments.
package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	// Commands are listed in the order they were added: the tools list
	// them in the order an operator needs them. Set once here rather than
	// in Setup, which tests call from parallel goroutines.
	cobra.EnableCommandSorting = false
}

// Setup configures root and every command below it as the package
// describes. flagError turns a bad flag, already worded as the standard
// flag package words it, into the error the tool reports (with a hint to
// its help, say, or marked as a usage error). Call it once every command
// is added, before Execute.
func Setup(root *cobra.Command, flagError func(c *cobra.Command, err error) error) {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().BoolP("help", "h", false, "show this help")
	_ = root.PersistentFlags().MarkHidden("help")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return flagError(c, GoFlagError(err))
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		c.Flags().SetInterspersed(false)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// Execute runs the command args name under root (see Setup) and returns
// it with its error; a request for help is answered by the command's help
// function and returns no error.
func Execute(root *cobra.Command, args []string) (*cobra.Command, error) {
	// Never nil: cobra reads os.Args when given nil.
	root.SetArgs(Normalize(root, args))
	return root.ExecuteC()
}

// Normalize returns args, what follows c's name on a command line, as
// cobra and pflag should read them to get what the standard flag package
// read, command by command:
//
//   - a single-dash flag of more than one letter, -name or -name=value,
//     becomes --name;
//   - a help flag ends the command line: the standard flag package stopped
//     there and showed the help of the command it was parsing the flags
//     of;
//   - "--" ends the flags of a command, and the next argument may name one
//     of its commands, whose flags follow;
//
// Flag values, operands, the arguments of a command that parses no flags
// and everything after the first operand that names no command are left
// as they are.
func Normalize(c *cobra.Command, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if c.DisableFlagParsing && subcommand(c, a) == nil {
			return append(out, args[i:]...)
		}
		switch {
		case a == "--":
			if i+1 < len(args) && subcommand(c, args[i+1]) != nil {
				continue
			}
			return append(out, args[i:]...)
		case len(a) < 2 || a[0] != '-':
			sub := subcommand(c, a)
			if sub == nil {
				return append(out, args[i:]...)
			}
			c = sub
			out = append(out, a)
			continue
		case a[1] != '-' && len(a) > 2:
			a = "-" + a
		}
		if a == "-h" || a == "--help" {
			return append(out, a)
		}
		out = append(out, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := lookup(c, name, !strings.HasPrefix(a, "--"))
		if f != nil && !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
			// The flag's value, whatever it looks like.
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// subcommand returns c's command called name, or nil.
func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}

// lookup returns the flag c reads as name (a shorthand letter if short),
// its own or one it inherits, or nil.
func lookup(c *cobra.Command, name string, short bool) *pflag.Flag {
	find := func(fs *pflag.FlagSet) *pflag.Flag {
		if short {
			if len(name) != 1 {
				return nil
			}
			return fs.ShorthandLookup(name)
		}
		return fs.Lookup(name)
	}
	if f := find(c.Flags()); f != nil {
		return f
	}
	for p := c; p != nil; p = p.Parent() {
		if f := find(p.PersistentFlags()); f != nil {
			return f
		}
	}
	return nil
}

// GoFlagError words a pflag parse error as the standard flag package words
// the same mistake; other errors are returned as they are.
func GoFlagError(err error) error {
	var notDefined *pflag.NotExistError
	var noValue *pflag.ValueRequiredError
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &notDefined):
		return fmt.Errorf("flag provided but not defined: -%s", notDefined.GetSpecifiedName())
	case errors.As(err, &noValue):
		return fmt.Errorf("flag needs an argument: -%s", noValue.GetSpecifiedName())
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		if f.Value.Type() == "bool" {
			return fmt.Errorf("invalid boolean value %q for -%s: parse error", invalid.GetValue(), f.Name)
		}
		why := "parse error"
		if errors.Is(err, strconv.ErrRange) {
			why = "value out of range"
		}
		return fmt.Errorf("invalid value %q for flag -%s: %s", invalid.GetValue(), f.Name, why)
	}
	return err
}

// FlagUsages lists the flags of c, its own and those it inherits, sorted
// by name, one a line, as pflag prints them; the help flag is left out.
func FlagUsages(c *cobra.Command) string {
	fs := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	fs.AddFlagSet(c.LocalFlags())
	fs.AddFlagSet(c.InheritedFlags())
	return fs.FlagUsages()
}
