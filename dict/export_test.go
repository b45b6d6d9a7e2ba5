package dict

// WriteKeyFile is writeKeyFile for the tests of package dict_test
// (powercut_test.go, which runs the operator's re-encryption and
// master-key rotation, and so cannot be in package dict).
var WriteKeyFile = writeKeyFile
