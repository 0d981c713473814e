package plan

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintCalibration prints what a calibration measured.
func PrintCalibration(w io.Writer, c *Calibration) {
	fmt.Fprintf(w, "Calibration of %s (%d cores; the saturated runs got %.2f of them), %.0f s\n", c.Host.CPU, c.Cores, c.AvailableCores, c.Duration)
	us := func(s float64) string { return fmt.Sprintf("%.2f us", s*1e6) }
	fmt.Fprintf(w, "  write %s + %s x conns/clients (generator alone %s), %s/loop pass, %s/entry, apply %s/put\n",
		us(c.CPU.Write), us(c.CPU.WritePerConn), us(c.CPU.Gen), us(c.CPU.Ready), us(c.CPU.Entry), us(c.CPU.Apply))
	fmt.Fprintf(w, "  transport inproc %s/message + %.3f ns/byte; tcp %s/message + %.3f ns/byte\n",
		us(c.CPU.MsgInproc), c.CPU.ByteInproc*1e9, us(c.CPU.MsgTCP), c.CPU.ByteTCP*1e9)
	fmt.Fprintf(w, "  %s\n\n", c.CPU.Fit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tprofile\tsave mean ms\tp50 ms\tp99 ms\t+ms/entry\tcpu us/save\tcpu us/entry\t")
	for _, s := range c.Saves {
		fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.2f\t%.2f\t\n", s.Backend, s.Profile, s.Mean*1e3,
			s.Quantiles[len(s.Quantiles)/2]*1e3, s.P99*1e3, s.PerEntry*1e3, s.CPUCall*1e6, s.CPUEntry*1e6)
	}
	tw.Flush()
	if len(c.Contention) > 0 {
		fmt.Fprintf(w, "\nnative disk, members syncing at once:")
		for _, p := range c.Contention {
			fmt.Fprintf(w, " %d: %.2fx", p.Writers, p.Factor)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tnodes\tclients\twrites/s\tmodel\tCPU us/write\tmodel\tentries/pass\t")
	for _, r := range c.Runs {
		eps := "-"
		if len(r.Saves) > 0 && r.Saves[0] > 0 {
			eps = fmt.Sprintf("%.1f", float64(r.Entries[0])/float64(r.Saves[0]))
		}
		model := "-"
		if r.Predicted > 0 {
			model = fmt.Sprintf("%.0f (%+.0f%%)", r.Predicted, 100*(r.Predicted-r.Throughput)/r.Throughput)
		}
		mcpu := "-"
		if r.PredictedCPU > 0 {
			mcpu = fmt.Sprintf("%.1f", r.PredictedCPU*1e6)
		}
		fmt.Fprintf(tw, "%s %s\t%d\t%d\t%.0f\t%s\t%.1f\t%s\t%s\t\n", r.Setup.Target, r.Setup.Backend, r.Setup.Nodes,
			r.Setup.Clients, r.Throughput, model, r.CPU/float64(max(r.Ops, 1))*1e6, mcpu, eps)
	}
	tw.Flush()
}
