// Package crashtest is the harness the crash tests share; it is a normal
// package, used only by tests.
//
// A crash test re-executes its own test binary as a child that runs one
// test function (Start). The child reports its steps on standard output,
// a line at a time (Say): say, "begin OP" before an operation and "ack OP"
// after it returned, or "error …" and exit when something fails (Die). It
// dies by SIGKILL, sent by the parent at a random moment (Child.KillAfter)
// or by itself at the n-th hit of a named failpoint (Failpoint). The parent
// reads the lines (Child.Lines), waits for the end (Child.Wait: was it
// SIGKILL?) and checks what recovery finds against what was acknowledged.
// Count reads how many kills a test makes.
package crashtest
