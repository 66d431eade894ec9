namespace Switchboard.Engine;

/// <summary>
/// Revoked tokens, shared by every node of a cluster: single tokens by <c>jti</c>, and every token
/// of a user issued (<c>iat</c>) before a time. Entries live until the tokens they refuse would
/// have expired anyway, so the store stays small.
/// </summary>
public interface ITokenRevocationStore
{
    /// <summary>Refuses the token with this <c>jti</c> until <paramref name="expireAt"/>.</summary>
    Task RevokeTokenAsync(string jti, DateTimeOffset expireAt, CancellationToken cancellationToken);

    /// <summary>Refuses the user's tokens issued before <paramref name="issuedBefore"/> (a later call with an earlier time does not lower it), remembered until <paramref name="expireAt"/>.</summary>
    Task InvalidateUserTokensAsync(string user, DateTimeOffset issuedBefore, DateTimeOffset expireAt, CancellationToken cancellationToken);

    /// <summary>Whether a token is refused: its <c>jti</c> is revoked, or its user's tokens issued before a time later than its <c>iat</c> (or it has no <c>iat</c>).</summary>
    Task<bool> IsRevokedAsync(string? jti, string? user, DateTimeOffset? issuedAt, CancellationToken cancellationToken);
}
