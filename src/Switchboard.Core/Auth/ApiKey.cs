using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Switchboard.Auth;

/// <summary>The server API key check, shared by the server API, its rate limit and the identity operator API.</summary>
public static class ApiKey
{
    /// <summary>
    /// Does the request carry <paramref name="key"/> (header <c>X-API-Key</c>, or
    /// <c>Authorization: apikey &lt;key&gt;</c>)? Compared in constant time; false when no key is configured.
    /// </summary>
    public static bool Matches(HttpRequest request, string? key)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrEmpty(key))
        {
            return false;
        }
        string? given = request.Headers["X-API-Key"];
        if (string.IsNullOrEmpty(given))
        {
            var authorization = request.Headers.Authorization.ToString();
            const string scheme = "apikey ";
            if (authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            {
                given = authorization[scheme.Length..].Trim();
            }
        }
        return given is not null
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(key));
    }
}
