package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/atrest/atrest/cmd/internal/cli"
	"github.com/spf13/cobra"
)

// rootCommand returns encctl's command tree, its flags bound to e. The
// commands are listed in the order help shows them.
func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use: "encctl",
		// encctl itself does nothing: a command line that names no
		// command, or one that does not exist, is a usage error.
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("no command given; commands: %s (run 'encctl help')", commandNames(c))
			}
			return usagef("unknown command %q; commands: %s", args[0], commandNames(c))
		},
		RunE: func(*cobra.Command, []string) error { return nil }, // Args refuses every call
	}
	// Persistent: every command has them, so that they may follow it.
	root.PersistentFlags().StringVar(&e.config, "config", "", "the TOML configuration file ([security.encryption])")
	root.PersistentFlags().StringVar(&e.dataDir, "data-dir", "", "the data directory")
	root.AddCommand(
		e.dumpFileCommand(),
		e.dumpKeyCommand(),
		e.decryptFileCommand(),
		e.verifyCommand(),
		e.cleanupCommand(),
		e.rotateMasterKeyCommand(),
		e.reencryptCommand(),
		e.exportCommand(),
		e.importCommand(),
		e.keyringCommand(),
	)
	help := e.helpCommand(root)
	root.AddCommand(help)
	root.SetHelpCommand(help)
	root.SetHelpFunc(e.printHelp)
	cli.Setup(root, func(c *cobra.Command, err error) error {
		// "encctl help" for encctl's own flags, "encctl help keyring add"
		// for a command's.
		return usagef("%v (run 'encctl help%s')", err, strings.TrimPrefix(c.CommandPath(), root.Name()))
	})
	return root
}

// command returns a subcommand: use is its name and synopsis, maxArgs the
// number of operands it takes at most (-1: any), run its body.
func command(use string, maxArgs int, run func(args []string) error) *cobra.Command {
	return &cobra.Command{
		Use: use,
		Args: func(_ *cobra.Command, args []string) error {
			if maxArgs >= 0 && len(args) > maxArgs {
				return usagef("unexpected argument %q", args[maxArgs])
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error { return run(args) },
	}
}

// subcommands returns c's commands but help.
func subcommands(c *cobra.Command) []*cobra.Command {
	var cs []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.Name() != "help" && !sub.Hidden {
			cs = append(cs, sub)
		}
	}
	return cs
}

func commandNames(c *cobra.Command) string {
	var names []string
	for _, sub := range subcommands(c.Root()) {
		names = append(names, sub.Name())
	}
	return strings.Join(names, ", ")
}

// helpCommand is 'help [COMMAND]': the overview, or one command's flags.
func (e *env) helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:  "help [COMMAND]",
		Args: cobra.ArbitraryArgs,
		// Its operands name a command, then perhaps that command's flags.
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			c := root
			for len(args) > 0 {
				sub := subcommand(c, args[0])
				if sub == nil {
					if c == root || !strings.HasPrefix(args[0], "-") {
						return c.ValidateArgs(args) // an unknown command
					}
					break
				}
				c, args = sub, args[1:]
			}
			// The rest is read as the command would read it, help aside.
			if err := c.ParseFlags(cli.Normalize(c, args)); err != nil {
				return c.FlagErrorFunc()(c, err)
			}
			if !c.HasSubCommands() {
				if err := c.ValidateArgs(c.Flags().Args()); err != nil {
					return err
				}
			}
			e.printHelp(c, nil)
			return nil
		},
	}
}

// subcommand returns c's command called name (help aside), or nil.
func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range subcommands(c) {
		if sub.Name() == name {
			return sub
		}
	}
	return nil
}

// printHelp is every command's help, on standard output: the overview for
// encctl itself, a command's own text (c.Long) for a command that has one
// (keyring), else its synopsis and flags.
func (e *env) printHelp(c *cobra.Command, _ []string) {
	switch {
	case !c.HasParent() || c.Name() == "help":
		printUsage(e.stdout, c.Root())
	case c.Long != "":
		fmt.Fprint(e.stdout, c.Long)
	default:
		fmt.Fprintf(e.stdout, "usage: %s\n\nflags:\n%s", c.UseLine(), cli.FlagUsages(c))
	}
}

// printUsage writes the overview help prints.
func printUsage(w io.Writer, root *cobra.Command) {
	fmt.Fprintln(w, "usage: encctl --config FILE --data-dir DIR COMMAND [flags]")
	fmt.Fprintln(w, "       encctl keyring (create|add|list) --keyring PATH [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range subcommands(root) {
		fmt.Fprintf(w, "  %s\n", c.Use)
	}
	fmt.Fprintln(w, "\nrun 'encctl help COMMAND' for a command's flags; the modifying commands")
	fmt.Fprintln(w, "(cleanup, rotate-master-key, reencrypt, import) need the engine stopped")
}
