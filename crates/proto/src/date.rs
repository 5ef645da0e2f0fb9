//! Calendar dates (UTC) of wall-clock instants, for the text formats netkit
//! writes: the access log's `06/Nov/1994:08:49:37 +0000`, the relay log's
//! RFC 3339 and the files listing's `1994-11-06 08:49`. One conversion for
//! all of them; the HTTP date itself comes from `httpdate`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment to the second, UTC, in the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// The year, e.g. 1994.
    pub year: u64,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    /// 0-23.
    pub hour: u32,
    /// 0-59.
    pub minute: u32,
    /// 0-59.
    pub second: u32,
}

impl Civil {
    /// The moment `secs` seconds after 1970-01-01 00:00:00 UTC.
    pub fn from_unix(secs: u64) -> Civil {
        let (year, month, day) = civil_from_days(secs / 86_400);
        let rem = secs % 86_400;
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem / 60 % 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// The moment of `t` (an instant before 1970 counts as 1970).
    pub fn from_system_time(t: SystemTime) -> Civil {
        Civil::from_unix(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    /// The month's English abbreviation, `Jan` … `Dec`.
    pub fn month_abbr(&self) -> &'static str {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        MONTHS[(self.month as usize).clamp(1, 12) - 1]
    }
}

/// `06/Nov/1994:08:49:37 +0000` (UTC): the Common Log Format's date.
pub fn clf_date(t: SystemTime) -> String {
    let c = Civil::from_system_time(t);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        c.day,
        c.month_abbr(),
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), Howard Hinnant's
/// `civil_from_days` for days on or after the epoch.
fn civil_from_days(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of the 400-year era
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clf_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(clf_date(t), "06/Nov/1994:08:49:37 +0000");
        assert_eq!(clf_date(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(clf_date(leap), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn civil_dates_across_leap_years_and_centuries() {
        let at = |secs| {
            let c = Civil::from_unix(secs);
            (c.year, c.month, c.day, c.hour, c.minute, c.second)
        };
        assert_eq!(at(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(at(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(at(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(at(4_107_542_400), (2100, 3, 1, 0, 0, 0)); // 2100 is no leap year
        assert_eq!(Civil::from_unix(0).month_abbr(), "Jan");
    }
}
