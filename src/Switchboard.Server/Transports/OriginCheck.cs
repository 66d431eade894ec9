using Switchboard.Auth;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// Admission for the client transports: the <c>Origin</c> allowlist, the refusals while draining or
/// full, and the WebSocket upgrade shared by the WebSocket endpoints.
/// </summary>
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

    /// <summary>
    /// The checks every WebSocket endpoint makes before it upgrades, answering the refusal itself
    /// (and counting it): a page of a foreign origin gets 403 (cross-site WebSocket hijacking: it
    /// may not connect in a user's name); a draining node or one at its connection cap gets 503
    /// with <c>Retry-After: 1</c> (try another node, or later). True when refused.
    /// </summary>
    public static bool RefuseConnection(this HttpContext context, Node node, OriginList origins)
    {
        if (!context.IsOriginAllowed(origins))
        {
            node.Metrics.Refused("origin");
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return true;
        }
        return context.RefuseWhenUnavailable(node);
    }

    /// <summary>503 with <c>Retry-After: 1</c> while the node drains or is at its connection cap; true when refused.</summary>
    public static bool RefuseWhenUnavailable(this HttpContext context, Node node)
    {
        if (node.RefuseReason() is not { } reason)
        {
            return false;
        }
        node.Metrics.Refused(reason);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        return true;
    }

    /// <summary>
    /// Accepts the WebSocket upgrade (with <paramref name="subProtocol"/>, if any; no keep-alive
    /// pings: the protocol has its own), or answers 400 to a request that is not an upgrade and
    /// returns null.
    /// </summary>
    public static async Task<System.Net.WebSockets.WebSocket?> AcceptWebSocketOrRefuseAsync(this HttpContext context, string? subProtocol = null)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("expected a WebSocket upgrade", context.RequestAborted).ConfigureAwait(false);
            return null;
        }
        return await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = subProtocol,
            KeepAliveInterval = TimeSpan.Zero,
        }).ConfigureAwait(false);
    }
}
