package main

// Every master-key backend that needs an SDK lives in a package of its own
// and registers itself when imported; the command links them all, so any
// configuration it is given opens.
import (
	_ "github.com/atrest/atrest/keyenv/awskms"
	_ "github.com/atrest/atrest/keyenv/azurekms"
	_ "github.com/atrest/atrest/keyenv/gcpkms"
	_ "github.com/atrest/atrest/keyenv/kmip"
	_ "github.com/atrest/atrest/keyenv/vaulttransit"
)
