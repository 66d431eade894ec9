using Switchboard.Protocol;

namespace Switchboard.Auth;

/// <summary>A validated connection token.</summary>
internal sealed record ConnectToken(
    string User,
    DateTimeOffset? ExpireAt,
    RawJson Info,
    IReadOnlyList<string> Channels,
    IReadOnlyDictionary<string, SubscribeOptionsClaim> Subs,
    string? Jti);

/// <summary>A validated subscription token.</summary>
internal sealed record SubscribeToken(
    string User,
    string Channel,
    DateTimeOffset? ExpireAt,
    RawJson Info,
    SubscriptionOverride? Override);

/// <summary>Why a token was refused.</summary>
internal enum TokenError
{
    /// <summary>Signature, algorithm, format or claims are wrong: never retry with it.</summary>
    Invalid,

    /// <summary>The token's <c>exp</c> has passed: get a new token.</summary>
    Expired,
}

/// <summary>A refused token.</summary>
internal sealed class TokenException(TokenError error, string message) : Exception(message)
{
    public TokenError Error { get; } = error;
}
