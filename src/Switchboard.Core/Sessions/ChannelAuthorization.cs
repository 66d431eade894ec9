using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>What a client asks to do, as an <see cref="IChannelAuthorizer"/> sees it.</summary>
public enum ChannelOperation
{
    /// <summary>A client-side <c>subscribe</c>.</summary>
    Subscribe,

    /// <summary>A client-side <c>publish</c>.</summary>
    Publish,

    /// <summary>A <c>presence</c> call.</summary>
    Presence,

    /// <summary>A <c>presence_stats</c> call.</summary>
    PresenceStats,

    /// <summary>A <c>history</c> call.</summary>
    History,

    /// <summary>An <c>rpc</c> call (<see cref="ChannelRequest.Target"/> is the method).</summary>
    Rpc,
}

/// <summary>One client request put to the app's <see cref="IChannelAuthorizer"/>s.</summary>
/// <param name="Operation">What the client asks to do.</param>
/// <param name="Target">The channel (as the client named it) or, for <see cref="ChannelOperation.Rpc"/>, the RPC method.</param>
/// <param name="Namespace">The channel's namespace (<c>chat</c> for <c>chat:room</c>); null for top-level channels and RPC.</param>
/// <param name="Data">The request's payload: the <c>subscribe</c> data, the publication data or the RPC data; empty for the others.</param>
/// <param name="Client">Who asks: user, client id, connection info, transport.</param>
public sealed record ChannelRequest(ChannelOperation Operation, string Target, string? Namespace, RawJson Data, ClientContext Client);

/// <summary>
/// An authorizer's answer: allow (optionally with <see cref="Info"/> and <see cref="Data"/>) or
/// refuse with a protocol error (103 permission denied unless another code is given).
/// </summary>
public sealed class ChannelDecision
{
    private static readonly ChannelDecision AllowedDecision = new(null, default, default);

    private ChannelDecision(Error? error, RawJson info, RawJson data)
    {
        Error = error;
        Info = info;
        Data = data;
    }

    /// <summary>Allows the request, attaching nothing.</summary>
    public static ChannelDecision Allow() => AllowedDecision;

    /// <summary>
    /// Allows the request and attaches JSON values. <paramref name="info"/>: on subscribe, the
    /// channel info (<c>chan_info</c>) of this subscription, shown in presence, join/leave and the
    /// publications this client sends; on publish, the <c>chan_info</c> of this publication.
    /// <paramref name="data"/>: on subscribe, the <c>data</c> of the subscribe result; on publish,
    /// the data published instead of the client's. Ignored for the other operations.
    /// </summary>
    public static ChannelDecision Allow(RawJson info = default, RawJson data = default)
        => info.IsEmpty && data.IsEmpty ? AllowedDecision : new(null, info, data);

    /// <summary>Refuses with error 103 (permission denied), or another protocol error code.</summary>
    public static ChannelDecision Deny(uint code = ErrorCodes.PermissionDenied, string message = "permission denied")
        => new(new Error { Code = code, Message = message }, default, default);

    /// <summary>The refusal; null when allowed.</summary>
    public Error? Error { get; }

    /// <summary>True when the request may go ahead.</summary>
    public bool IsAllowed => Error is null;

    /// <summary>Info to attach (see <see cref="Allow(RawJson, RawJson)"/>).</summary>
    public RawJson Info { get; }

    /// <summary>Data to attach (see <see cref="Allow(RawJson, RawJson)"/>).</summary>
    public RawJson Data { get; }
}

/// <summary>
/// The app's say over what clients do in channels: called for every client-side subscribe,
/// publish, presence, presence_stats, history and rpc once the namespace rules (and any
/// subscription token) have allowed it, before the engine is touched. Apps register
/// implementations in DI; with several, each is asked in registration order, the first refusal
/// wins, and a later authorizer's non-empty info or data replaces an earlier one's. Throwing a
/// <see cref="ProtocolException"/> refuses with its code, like <see cref="ChannelDecision.Deny"/>.
/// Subscriptions made by the server (connection token <c>channels</c>/<c>subs</c>, the server API)
/// are not put to authorizers: whoever issued them already decided.
/// </summary>
public interface IChannelAuthorizer
{
    /// <summary>Decides one request. Runs on the client's command path: keep it quick, cache what you can.</summary>
    ValueTask<ChannelDecision> AuthorizeAsync(ChannelRequest request, CancellationToken cancellationToken);
}
