using System.Text.Json.Serialization;

namespace Switchboard.Identity.Endpoints;

/// <summary>Body of <c>POST /api/identity/users</c>.</summary>
internal sealed record CreateUserRequest(string? Username, string? Password, string? Email);

/// <summary>Answer of <c>POST /api/identity/users</c>.</summary>
internal sealed record CreatedUser(string Id, string Username);

/// <summary>
/// Body of <c>POST /api/identity/clients</c>: <c>type</c> <c>confidential</c> (default: a secret and
/// client credentials, for bots and services) or <c>public</c> (a browser app: authorization code with
/// PKCE and refresh tokens to the given redirect URIs).
/// </summary>
internal sealed record CreateClientRequest(string? ClientId, string? Type, string? ClientSecret, string? DisplayName, List<string>? RedirectUris);

/// <summary>Answer of <c>POST /api/identity/clients</c>; the secret is shown this once.</summary>
internal sealed record CreatedClient(string ClientId, string? ClientSecret);

/// <summary>A refused operator request.</summary>
internal sealed record ApiError(string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateUserRequest))]
[JsonSerializable(typeof(CreatedUser))]
[JsonSerializable(typeof(CreateClientRequest))]
[JsonSerializable(typeof(CreatedClient))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class IdentityJsonContext : JsonSerializerContext;
