// Package enginetest is what the engine adapters' tests share (pebblefs,
// pebblev1fs, leveldbstore): above all their crash and power-cut tests,
// and also the checks of what reaches the disk (CheckNoPlaintext,
// CheckEntries, DataKey) and a quiet Pebble logger. It is a normal
// package, used only by tests.
//
// Keys are integers; a value is derived from its key and a generation
// (Value), so every byte read back is checked and a wrong value can be
// named (Parse). A History records a writer's operations as they are
// begun and acknowledged, synced or not; a Cut taken at a crash knows
// which writes were acknowledged durable; Cut.Check compares what a
// recovery reads with it: every key holds its last acknowledged durable
// value or a value written after it, never an older one, never one it was
// not given.
package enginetest
