using Switchboard.Auth;

namespace Switchboard.Server.Transports;

/// <summary>The <c>Origin</c> allowlist applied to HTTP requests of client transports (WebSocket and any streaming endpoint).</summary>
internal static class OriginCheck
{
    /// <summary>
    /// False when the request comes from a browser page of an origin that may not connect (see
    /// <see cref="OriginList"/>); such a request must be answered 403 before anything is opened.
    /// More than one <c>Origin</c> header is refused.
    /// </summary>
    public static bool IsOriginAllowed(this HttpContext context, OriginList origins)
    {
        var origin = context.Request.Headers.Origin;
        return origin.Count switch
        {
            0 => true,
            1 => origins.IsAllowed(origin[0], context.Request.Host.Value),
            _ => false,
        };
    }
}
