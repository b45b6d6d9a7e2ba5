package report

// Exported for the tests of package report_test, which check that the
// reports hold what these functions write for each figure.
var (
	FormatMedian = formatMedian
	FormatVersus = formatVersus
	ShareOf      = shareOf
	VersusPeer   = versusPeer
)
