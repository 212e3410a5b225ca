# Sourced by the server scripts: free_port prints a TCP port on 127.0.0.1 that nothing
# uses now, below the kernel's ephemeral range. Above it (the old choice, 20000-60000),
# an outgoing connection's local port could take the port between this check and the
# server's bind: a RabbitMQ node then died at boot with dist_port_already_used
# (not_erlang), and a restarted Redis (C25 "up", same port) could not bind. A race with
# another program's listener is still possible; it shows as a failed start, never as a
# wrong server.
free_port() {
  local ephemeral_low port
  ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$ephemeral_low" -gt 11000 ] || ephemeral_low=32768
  while true; do
    port=$((10000 + RANDOM % (ephemeral_low - 10000)))
    # Every state, not only listeners: a connection's local port blocks a bind too.
    ss -Htan "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
  done
}
