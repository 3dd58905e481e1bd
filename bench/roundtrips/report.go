package roundtrips

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the table of the report.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Command (from the repository root):\n\n```sh\n%s\n```\n\n", r.Command)
	fmt.Fprintf(&b, "Server: %s. Run at %s. Two instances of one application (each a `hoardredis.Service` on its own client: memory tier, Redis tier, bus, tag clock), "+
		"each operation on fresh ids, its round trips counted by a go-redis hook on the client of the instance that runs it (a pipeline is one round trip) "+
		"and, on a private server, by INFO commandstats before and after (the `INFO` of the count left out).\n\n",
		r.Server, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("| operation | how | round trips | least possible | over the least | commands (client) | commands (server) | what the least is |\n|---|---|--:|--:|--:|---|---|---|\n")
	for _, x := range r.Results {
		if x.Err != nil {
			fmt.Fprintf(&b, "| %s | %s | error: %s | %d | – | – | – | %s |\n", x.Name, x.How, strings.ReplaceAll(x.Err.Error(), "|", "\\|"), x.Min, x.Why)
			continue
		}
		server := "–"
		if x.Server != nil {
			server = format(x.Server)
		}
		over := "0"
		if x.Trips > x.Min {
			over = fmt.Sprintf("**+%d**", x.Trips-x.Min)
		}
		trips := fmt.Sprint(x.Trips)
		if x.Others > 0 {
			trips += fmt.Sprintf(" (and %d by the other instance)", x.Others)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s | %s |\n", x.Name, x.How, trips, x.Min, over, format(x.Commands), server, x.Why)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
