//! The few lines `netkit up` prints for people after the ready lines: where
//! to point a browser or a client from another machine (every non-loopback
//! interface address each `--bind` serves), and a QR code of the web address
//! for a phone.

use super::UpConfig;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

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

/// Where other machines reach `service`: for each of its bound addresses
/// (one per `--bind`, in order), the interface addresses it serves, with its
/// port; without any (a wildcard on a machine with only loopback),
/// 127.0.0.1.
fn places(addrs: &[(&'static str, SocketAddr)], service: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for (_, bound) in addrs.iter().filter(|(name, _)| *name == service) {
        let mut ips = interface_addresses(bound.ip());
        if ips.is_empty() {
            ips.push(IpAddr::from([127, 0, 0, 1]));
        }
        for ip in ips {
            let place = format!("{}:{}", host(ip), bound.port());
            if !found.contains(&place) {
                found.push(place);
            }
        }
    }
    found
}

/// The banner text from every bound address by service (see
/// [`super::Up::addrs`]); `fingerprint`: the web page and the file server
/// speak TLS with this certificate; `qr`: also draw the first web address as
/// a QR code.
pub fn banner(
    config: &UpConfig,
    addrs: &[(&'static str, SocketAddr)],
    fingerprint: Option<&str>,
    qr: bool,
) -> String {
    let web_scheme = if fingerprint.is_some() {
        "https"
    } else {
        "http"
    };
    let first = |name: &str| places(addrs, name).into_iter().next();
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
    let web = places(addrs, "http");
    if !web.is_empty() {
        let _ = writeln!(text, "Open in a browser on this network:");
        for place in &web {
            let _ = writeln!(text, "  {web_scheme}://{place}/");
        }
    }
    let mut clients = Vec::new();
    if let Some(place) = first("files") {
        clients.push(match fingerprint {
            Some(fp) => format!("netkit files shell --tls --fingerprint {fp} {place}"),
            None => format!("netkit files shell {place}"),
        });
    }
    if let Some(place) = first("tftp") {
        clients.push(format!("curl -O tftp://{place}/FILE"));
    }
    if let Some(place) = first("chat") {
        clients.push(format!("netkit chat join {place} NAME"));
    }
    if let Some(place) = first("irc") {
        clients.push(format!("irc {place} #netkit"));
    }
    if !clients.is_empty() {
        let _ = writeln!(text, "Or from a terminal:");
        for c in clients {
            let _ = writeln!(text, "  {c}");
        }
    }
    if let (true, Some(place)) = (qr, web.first()) {
        if let Some(code) = qr_code(&format!("{web_scheme}://{place}/")) {
            text.push_str(&code);
        }
    }
    let has = |name: &str| addrs.iter().any(|(n, _)| *n == name);
    if has("chat") || has("irc") {
        let _ = writeln!(text, "Lines typed here are announced to the chat room.");
    }
    if let Some(fingerprint) = fingerprint {
        let _ = writeln!(
            text,
            "TLS certificate SHA-256 fingerprint (compare it with what a browser shows):\n  {fingerprint}"
        );
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
        let any = |port: u16| SocketAddr::from(([0, 0, 0, 0], port));
        let ports = [
            ("http", any(8000)),
            ("files", any(8888)),
            ("tftp", any(6969)),
            ("chat", any(9999)),
            ("irc", any(6667)),
        ];
        let text = banner(&config, &ports, None, true);
        assert!(text.contains(":8000/"), "{text}");
        assert!(text.contains("netkit files shell"), "{text}");
        assert!(text.contains("tftp://"), "{text}");
        assert!(text.contains("netkit chat join"), "{text}");
        assert!(text.contains(":6667 #netkit"), "{text}");
        assert!(
            text.contains('▀') || text.contains('▄'),
            "a QR code: {text}"
        );
        assert!(!banner(&config, &ports, None, false).contains('▀'));
        for ip in interface_addresses(config.bind[0]) {
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
        let config = UpConfig::new(".".into());
        let at = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let text = banner(
            &config,
            &[
                ("http", at("[fd00::2]:8000")),
                ("files", at("[fd00::2]:8888")),
            ],
            None,
            false,
        );
        assert!(text.contains("http://[fd00::2]:8000/"), "{text}");
        assert!(text.contains("files shell [fd00::2]:8888"), "{text}");
    }

    #[test]
    fn with_tls_the_banner_says_https_and_shows_the_fingerprint() {
        let config = UpConfig::new(".".into());
        let at = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let addrs = [
            ("http", at("127.0.0.1:8443")),
            ("files", at("127.0.0.1:8888")),
        ];
        let text = banner(&config, &addrs, Some("AB:CD"), false);
        assert!(text.contains("  https://127.0.0.1:8443/"), "{text}");
        assert!(!text.contains("http://"), "{text}");
        assert!(
            text.contains("fingerprint") && text.contains("  AB:CD\n"),
            "{text}"
        );
        assert!(
            text.contains("--fingerprint AB:CD 127.0.0.1:8888"),
            "{text}"
        );
    }

    #[test]
    fn every_bind_is_shown_with_its_own_port() {
        let config = UpConfig::new(".".into());
        let at = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let addrs = [
            ("http", at("127.0.0.1:8000")),
            ("http", at("[::1]:8001")),
            ("tftp", at("[::1]:6969")),
            ("tftp", at("127.0.0.1:6969")),
        ];
        let text = banner(&config, &addrs, None, false);
        let web: Vec<&str> = text.lines().filter(|l| l.contains("http://")).collect();
        assert_eq!(
            web,
            ["  http://127.0.0.1:8000/", "  http://[::1]:8001/"],
            "{text}"
        );
        // A client line names the first bind's address.
        assert!(text.contains("curl -O tftp://[::1]:6969/FILE"), "{text}");
    }
}
