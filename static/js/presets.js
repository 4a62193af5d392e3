// Curated flow records (shared by the predict page and the dashboard's sample flows).
// Times are UTC, in the generator's two-week window starting Monday 2024-01-01.
const MONDAY = 1704067200;
const at = (day, hour, minute = 0) => ({ timestamp_seconds: MONDAY + day * 86400 + hour * 3600 + minute * 60, hour });

export const PRESETS = [
  { key: "quiet-night", name: "Quiet night",
    flow: { packet_size: 90, bytes_sent: 1200, source_ip: "10.2.32.5", dest_ip: "172.16.12.9", protocol: "UDP", ...at(1, 3, 10) } },
  { key: "weekday-peak-bulk", name: "Weekday peak bulk transfer",
    flow: { packet_size: 1460, bytes_sent: 6500000, source_ip: "10.3.48.11", dest_ip: "172.16.1.4", protocol: "TCP", ...at(2, 14, 5) } },
  { key: "weekend-streaming", name: "Weekend streaming",
    flow: { packet_size: 1200, bytes_sent: 900000, source_ip: "10.4.64.7", dest_ip: "172.16.8.20", protocol: "UDP", ...at(5, 20, 30) } },
  { key: "icmp-burst", name: "ICMP burst",
    flow: { packet_size: 84, bytes_sent: 2400, source_ip: "10.1.16.3", dest_ip: "172.16.3.2", protocol: "ICMP", ...at(3, 11, 0) } },
  { key: "heavy-hitter", name: "Heavy-hitter host",
    flow: { packet_size: 1500, bytes_sent: 3000000, source_ip: "10.9.0.42", dest_ip: "172.16.0.5", protocol: "TCP", ...at(1, 16, 20) } },
];

export const presetByKey = (key) => PRESETS.find((p) => p.key === key);
