//! The few lines `netkit up` prints for people after the ready lines: where
//! to point a browser or a client from another machine (every non-loopback
//! interface address), and a QR code of the web address for a phone.

use super::UpConfig;
use std::fmt::Write as _;
use std::net::IpAddr;

/// The addresses other machines can reach this one at: every up, non-loopback
/// interface address (IPv4 first; IPv6 link-local ones left out, they need a
/// zone to be usable), or the bound address itself when it is not a wildcard.
pub fn interface_addresses(bind: IpAddr) -> Vec<IpAddr> {
    let mut all = Vec::new();
    if bind.is_unspecified() {
        if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
            for addr in addrs.filter_map(|ifa| ifa.address) {
                if let Some(v4) = addr.as_sockaddr_in() {
                    all.push(IpAddr::V4(v4.ip()));
                } else if let Some(v6) = addr.as_sockaddr_in6() {
                    all.push(IpAddr::V6(v6.ip()));
                }
            }
        }
    }
    reachable(bind, all)
}

/// Of this machine's addresses, those a listener on `bind` serves to other
/// machines: `bind` itself unless it is a wildcard; for `0.0.0.0` the IPv4
/// ones; for `::` (dual-stack) the IPv4 and the IPv6 ones, IPv4 first.
fn reachable(bind: IpAddr, addresses: impl IntoIterator<Item = IpAddr>) -> Vec<IpAddr> {
    if !bind.is_unspecified() {
        return vec![bind];
    }
    let mut found: Vec<IpAddr> = Vec::new();
    for ip in addresses {
        let link_local = matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
        let served = ip.is_ipv4() || bind.is_ipv6();
        if served && !ip.is_loopback() && !link_local && !found.contains(&ip) {
            found.push(ip);
        }
    }
    found.sort_by_key(|ip| ip.is_ipv6());
    found
}

fn host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The banner text; `qr`: also draw the first web address as a QR code.
pub fn banner(config: &UpConfig, ports: &[(&'static str, u16)], qr: bool) -> String {
    let port = |name: &str| ports.iter().find(|(n, _)| *n == name).map(|(_, p)| *p);
    let mut ips = interface_addresses(config.bind);
    if ips.is_empty() {
        ips.push(IpAddr::from([127, 0, 0, 1]));
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "\nnetkit up: sharing {} (uploads {})",
        config
            .dir
            .canonicalize()
            .unwrap_or_else(|_| config.dir.clone())
            .display(),
        if config.share.upload { "on" } else { "off" }
    );
    let first = host(ips[0]);
    if let Some(p) = port("http") {
        let _ = writeln!(text, "Open in a browser on this network:");
        for ip in &ips {
            let _ = writeln!(text, "  http://{}:{p}/", host(*ip));
        }
    }
    let mut clients = Vec::new();
    if let Some(p) = port("files") {
        clients.push(format!("netkit files shell {first}:{p}"));
    }
    if let Some(p) = port("tftp") {
        clients.push(format!("curl -O tftp://{first}:{p}/FILE"));
    }
    if let Some(p) = port("chat") {
        clients.push(format!("netkit chat join {first}:{p} NAME"));
    }
    if let Some(p) = port("irc") {
        clients.push(format!("irc {first}:{p} #netkit"));
    }
    if !clients.is_empty() {
        let _ = writeln!(text, "Or from a terminal:");
        for c in clients {
            let _ = writeln!(text, "  {c}");
        }
    }
    if let (true, Some(p)) = (qr, port("http")) {
        if let Some(code) = qr_code(&format!("http://{first}:{p}/")) {
            text.push_str(&code);
        }
    }
    if port("chat").is_some() || port("irc").is_some() {
        let _ = writeln!(text, "Lines typed here are announced to the chat room.");
    }
    let _ = writeln!(text, "Ctrl-C stops every service.");
    text
}

/// A QR code drawn with half-block characters, light on dark so that phone
/// cameras read it on a dark terminal too (quiet zone included).
fn qr_code(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let mut drawn = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    drawn.push('\n');
    Some(drawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_names_every_service_and_draws_a_code() {
        let config = UpConfig::new(".".into());
        let ports = [
            ("http", 8000),
            ("files", 8888),
            ("tftp", 6969),
            ("chat", 9999),
            ("irc", 6667),
        ];
        let text = banner(&config, &ports, true);
        assert!(text.contains(":8000/"), "{text}");
        assert!(text.contains("netkit files shell"), "{text}");
        assert!(text.contains("tftp://"), "{text}");
        assert!(text.contains("netkit chat join"), "{text}");
        assert!(text.contains(":6667 #netkit"), "{text}");
        assert!(
            text.contains('▀') || text.contains('▄'),
            "a QR code: {text}"
        );
        assert!(!banner(&config, &ports, false).contains('▀'));
        for ip in interface_addresses(config.bind) {
            assert!(!ip.is_loopback());
        }
    }

    #[test]
    fn a_dual_stack_bind_shows_ipv6_addresses_too() {
        let ips: Vec<IpAddr> = ["::1", "fd00::2", "127.0.0.1", "fe80::1", "192.0.2.2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let shown = |bind: &str| -> Vec<String> {
            let seen = reachable(bind.parse().unwrap(), ips.clone());
            seen.iter().map(ToString::to_string).collect()
        };
        assert_eq!(shown("::"), ["192.0.2.2", "fd00::2"]);
        assert_eq!(shown("0.0.0.0"), ["192.0.2.2"]);
        assert_eq!(shown("fd00::2"), ["fd00::2"]);
        let mut config = UpConfig::new(".".into());
        config.bind = "fd00::2".parse().unwrap();
        let text = banner(&config, &[("http", 8000), ("files", 8888)], false);
        assert!(text.contains("http://[fd00::2]:8000/"), "{text}");
        assert!(text.contains("files shell [fd00::2]:8888"), "{text}");
    }
}
