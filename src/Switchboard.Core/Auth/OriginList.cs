using System.Collections.Frozen;

namespace Switchboard.Auth;

/// <summary>
/// Which browser origins may open client connections (the defence against cross-site WebSocket
/// hijacking: a browser sends a page's <c>Origin</c> with every WebSocket and cross-site request,
/// and a page of another site must not ride on a victim's cookies or stored tokens). Allowed: no
/// <c>Origin</c> at all (not a browser), the server's own origin (host and port equal the
/// request's <c>Host</c>), the configured origins, or anything when <c>*</c> is configured.
/// </summary>
internal sealed class OriginList
{
    private readonly bool _any;
    private readonly FrozenSet<string> _allowed;

    public OriginList(IEnumerable<string> allowed)
    {
        var normalized = new List<string>();
        foreach (var entry in allowed)
        {
            if (entry.Trim() == "*")
            {
                _any = true;
            }
            else if (TryNormalize(entry, out var origin, out _))
            {
                normalized.Add(origin);
            }
        }
        _allowed = normalized.ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>True for <c>*</c> or an origin: a scheme and a host, an optional port, no path, query or user info.</summary>
    public static bool IsValidEntry(string entry) => entry.Trim() == "*" || TryNormalize(entry, out _, out _);

    /// <summary>May a request with this <c>Origin</c> (null when absent) to this <c>Host</c> connect?</summary>
    public bool IsAllowed(string? origin, string? host)
    {
        if (origin is null || _any)
        {
            return true;
        }
        if (!TryNormalize(origin, out var normalized, out var uri))
        {
            return false; // includes "null" (sandboxed frames, file: pages)
        }
        return _allowed.Contains(normalized) || IsSameOrigin(uri, host);
    }

    // The Host header, read with the origin's scheme (so a missing port means that scheme's
    // default), names the same host and port. The scheme itself is not compared: behind a proxy
    // that ends TLS the request arrives as http while the page's origin is https.
    private static bool IsSameOrigin(Uri origin, string? host)
    {
        if (string.IsNullOrEmpty(host) || origin.Scheme is not ("http" or "https")
            || !Uri.TryCreate($"{origin.Scheme}://{host}/", UriKind.Absolute, out var requested))
        {
            return false;
        }
        return string.Equals(requested.IdnHost, origin.IdnHost, StringComparison.OrdinalIgnoreCase)
            && requested.Port == origin.Port
            && requested.AbsolutePath == "/" && requested.UserInfo.Length == 0;
    }

    private static bool TryNormalize(string value, out string normalized, out Uri uri)
    {
        normalized = "";
        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out uri!)
            || uri.HostNameType is UriHostNameType.Unknown || uri.Host.Length == 0
            || uri.UserInfo.Length > 0 || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0
            || value.TrimEnd().EndsWith('/'))
        {
            return false;
        }
        normalized = $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}";
        return true;
    }
}
