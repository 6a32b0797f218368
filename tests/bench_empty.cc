// The floor under any plugin's start-up: a program that does nothing, linked like the quasar
// binary (static glibc). bench_cni spawns it as it spawns the plugins.
int main() { return 0; }
