using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Switchboard.Channels;
using Switchboard.Identity.Data;

namespace Switchboard.Identity;

/// <summary>
/// The keys of the OAuth server: an RSA key that signs every token (from a configured PEM file, or
/// generated once and kept in the database) and an AES key that encrypts the tokens only the server
/// reads (authorization codes, refresh tokens). Every node loads the same keys, so a token issued by
/// one node is accepted by all, also after restarts.
/// </summary>
internal sealed partial class TokenKeys(IServiceScopeFactory scopes, IOptions<SwitchboardOptions> options, TimeProvider time, ILogger<TokenKeys> logger)
{
    public const string SigningKeyId = "signing-rsa";
    public const string EncryptionKeyId = "encryption-aes";

    private readonly Lock _lock = new();
    private (RsaSecurityKey Signing, SymmetricSecurityKey Encryption)? _keys;

    /// <summary>The signing key (private part included).</summary>
    public RsaSecurityKey Signing => Load().Signing;

    /// <summary>The key that encrypts authorization codes and refresh tokens.</summary>
    public SymmetricSecurityKey Encryption => Load().Encryption;

    private (RsaSecurityKey Signing, SymmetricSecurityKey Encryption) Load()
    {
        lock (_lock)
        {
            // Called while the OpenIddict options are built, which is synchronous.
            return _keys ??= LoadAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
    }

    private async Task<(RsaSecurityKey, SymmetricSecurityKey)> LoadAsync(CancellationToken cancellationToken)
    {
        var scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var db = scope.ServiceProvider.GetRequiredService<IdentityDb>();
            await IdentitySchema.EnsureAsync(db, cancellationToken).ConfigureAwait(false);

            var path = options.Value.Identity.SigningKeyPath;
            var pem = string.IsNullOrEmpty(path)
                ? await GetOrCreateAsync(db, SigningKeyId, () => NewRsaKey(), cancellationToken).ConfigureAwait(false)
                : await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            var signing = new RsaSecurityKey(rsa) { KeyId = KeyIdOf(rsa) };

            var aes = await GetOrCreateAsync(db, EncryptionKeyId, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), cancellationToken).ConfigureAwait(false);
            var encryption = new SymmetricSecurityKey(Convert.FromBase64String(aes));
            return (signing, encryption);
        }
    }

    private static string NewRsaKey()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    }

    // Stable across nodes and restarts: derived from the public key.
    private static string KeyIdOf(RSA rsa)
        => Base64UrlEncoder.Encode(SHA256.HashData(rsa.ExportSubjectPublicKeyInfo()))[..16];

    private async Task<string> GetOrCreateAsync(IdentityDb db, string id, Func<string> create, CancellationToken cancellationToken)
    {
        var existing = await db.TokenKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Id == id, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing.Value;
        }
        db.TokenKeys.Add(new StoredKey { Id = id, Value = create(), CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds() });
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            Log.KeyCreated(logger, id);
        }
        catch (DbUpdateException)
        {
            // Another node stored one first: use that one.
            db.ChangeTracker.Clear();
        }
        return (await db.TokenKeys.AsNoTracking().FirstAsync(k => k.Id == id, cancellationToken).ConfigureAwait(false)).Value;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Generated the OAuth server's {Key} key and stored it in the database")]
        public static partial void KeyCreated(ILogger logger, string key);
    }
}
