using System.Collections.Concurrent;

namespace Switchboard.Engine;

/// <summary>The single node's revocations, in memory; expired entries are swept as new ones arrive.</summary>
public sealed class MemoryTokenRevocationStore(TimeProvider time) : ITokenRevocationStore
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Before, DateTimeOffset Until)> _users = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public Task RevokeTokenAsync(string jti, DateTimeOffset expireAt, CancellationToken cancellationToken)
    {
        Sweep();
        _tokens.AddOrUpdate(jti, expireAt, (_, old) => old > expireAt ? old : expireAt);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task InvalidateUserTokensAsync(string user, DateTimeOffset issuedBefore, DateTimeOffset expireAt, CancellationToken cancellationToken)
    {
        Sweep();
        _users.AddOrUpdate(
            user,
            (issuedBefore, expireAt),
            (_, old) => (old.Before > issuedBefore ? old.Before : issuedBefore, old.Until > expireAt ? old.Until : expireAt));
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<bool> IsRevokedAsync(string? jti, string? user, DateTimeOffset? issuedAt, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!string.IsNullOrEmpty(jti) && _tokens.TryGetValue(jti, out var until) && until > now)
        {
            return Task.FromResult(true);
        }
        if (!string.IsNullOrEmpty(user) && _users.TryGetValue(user, out var entry) && entry.Until > now)
        {
            return Task.FromResult(issuedAt is not { } iat || iat < entry.Before);
        }
        return Task.FromResult(false);
    }

    private void Sweep()
    {
        var now = time.GetUtcNow();
        foreach (var (jti, until) in _tokens)
        {
            if (until <= now)
            {
                _tokens.TryRemove(new KeyValuePair<string, DateTimeOffset>(jti, until));
            }
        }
        foreach (var entry in _users)
        {
            if (entry.Value.Until <= now)
            {
                _users.TryRemove(entry);
            }
        }
    }
}
