package keyenv

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// sdkPrefixes are the import paths of the SDKs master-key backends need;
// each backend package added to backendPackages adds its SDK here.
var sdkPrefixes = []string{"github.com/aws/", "cloud.google.com/", "google.golang.org/grpc", "github.com/Azure/", "github.com/hashicorp/vault/", "github.com/ovh/kmip-go"}

// The SDK of a backend is linked only by importing the backend's package:
// keyenv and dict (an engine using a key file) link none, each backend
// package links its own, and both commands link every backend package.
func TestBackendSDKsStayOut(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	const mod = "github.com/atrest/atrest/"
	noSDK := []string{mod + "keyenv", mod + "dict"}
	commands := []string{mod + "cmd/encctl", mod + "cmd/encbench"}
	var backends []string
	for _, p := range backendPackages {
		backends = append(backends, p)
	}
	slices.Sort(backends)
	pkgs := slices.Concat(noSDK, commands, backends)
	// One line per package: its path, then what go list -deps lists for it.
	out, err := exec.Command(goCmd, append([]string{"list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}, pkgs...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		deps[f[0]] = f[1:]
	}
	sdk := func(pkg string) []string {
		var found []string
		for _, d := range deps[pkg] {
			for _, p := range sdkPrefixes {
				if strings.HasPrefix(d, p) {
					found = append(found, d)
				}
			}
		}
		return found
	}
	for _, pkg := range noSDK {
		if len(deps[pkg]) == 0 {
			t.Fatalf("go list listed nothing for %s:\n%s", pkg, out)
		}
		if found := sdk(pkg); len(found) > 0 {
			t.Errorf("%s links %d SDK packages, %s first", pkg, len(found), found[0])
		}
	}
	for _, backend := range backends {
		if len(sdk(backend)) == 0 {
			t.Errorf("%s links no SDK: sdkPrefixes lacks its SDK", backend)
		}
		for _, cmd := range commands {
			if !slices.Contains(deps[cmd], backend) {
				t.Errorf("%s does not import %s", cmd, backend)
			}
		}
	}
}
