using System.Net;
using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;
using Switchboard.Channels;

namespace Switchboard.Auth;

/// <summary>Reading and checking the configured key material (PEM keys, JWKS and issuer URLs).</summary>
internal static class TokenKeyConfiguration
{
    /// <summary>Checks <see cref="TokenOptions"/>' key sources; each failure names its key.</summary>
    public static void Validate(string key, TokenOptions options, List<string> errors)
    {
        for (var i = 0; i < options.PublicKeys.Count; i++)
        {
            try
            {
                _ = LoadPublicKey(options.PublicKeys[i]);
            }
            catch (InvalidOperationException e)
            {
                errors.Add($"{key}:PublicKeys:{i}: {e.Message}");
            }
        }
        for (var i = 0; i < options.JwksUrls.Count; i++)
        {
            if (UrlProblem(options.JwksUrls[i]) is { } problem)
            {
                errors.Add($"{key}:JwksUrls:{i}: {problem}");
            }
        }
        for (var i = 0; i < options.Issuers.Count; i++)
        {
            if (UrlProblem(options.Issuers[i].Authority) is { } problem)
            {
                errors.Add($"{key}:Issuers:{i}:Authority: {problem}");
            }
        }
        if (options.KeysRefreshInterval <= TimeSpan.Zero)
        {
            errors.Add($"{key}:KeysRefreshInterval: must be positive.");
        }
        if (options.KeysRefetchMinInterval < TimeSpan.Zero)
        {
            errors.Add($"{key}:KeysRefetchMinInterval: must not be negative.");
        }
    }

    /// <summary>Why a key-server URL is not acceptable, or null: absolute, https (http only on a loopback host).</summary>
    public static string? UrlProblem(string? url)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return $"must be an absolute URL (was '{url}').";
        }
        if (uri.Scheme == Uri.UriSchemeHttps)
        {
            return null;
        }
        if (uri.Scheme == Uri.UriSchemeHttp && (uri.IsLoopback || (IPAddress.TryParse(uri.Host, out var ip) && IPAddress.IsLoopback(ip))))
        {
            return null;
        }
        return $"must use https (http only on a loopback host) (was '{url}').";
    }

    /// <summary>
    /// An RSA or EC public key from PEM text or from the PEM file at that path. The key is tagged
    /// with its family, so it never verifies an HMAC signature whatever the token's header says.
    /// </summary>
    public static SecurityKey LoadPublicKey(string entry)
    {
        string pem;
        if (entry.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            pem = entry;
        }
        else
        {
            try
            {
                pem = File.ReadAllText(entry);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new InvalidOperationException($"neither PEM text nor a readable PEM file ({e.Message}).", e);
            }
        }
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
        }
        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            ec.Dispose();
        }
        throw new InvalidOperationException("not an RSA or EC public key in PEM form (-----BEGIN PUBLIC KEY-----).");
    }
}
