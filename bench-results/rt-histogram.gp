set terminal pngcairo size 1000,800
set output 'bench-results/rt.png'
set termoption noenhanced
set datafile missing '?'
set logscale xy
set xlabel 'dispatch delay (us)'
set ylabel 'activations per bucket'
set grid
set key top right
set multiplot layout 2,1
set title '1 kHz periodic task, idle'
plot 'bench-results/rt-histogram.dat' using 1:2 with steps lw 2 title 'rt guest (nk executive)', '' using 1:3 with steps lw 2 title 'cyclictest SCHED_FIFO', '' using 1:4 with steps lw 2 title 'SCHED_OTHER process'
set title '1 kHz periodic task, load'
plot 'bench-results/rt-histogram.dat' using 1:5 with steps lw 2 title 'rt guest (nk executive)', '' using 1:6 with steps lw 2 title 'cyclictest SCHED_FIFO', '' using 1:7 with steps lw 2 title 'SCHED_OTHER process'
unset multiplot
