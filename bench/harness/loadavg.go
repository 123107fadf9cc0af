package harness

import (
	"os"
	"strings"
)

// LoadAvg returns the 1-, 5- and 15-minute load averages from
// /proc/loadavg ("" where unavailable), so a report shows whether other
// work shared the machine.
func LoadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
