using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using Switchboard.Channels;

namespace Switchboard.Identity.Endpoints;

/// <summary>
/// The operator's way to create users and OAuth clients: <c>POST /api/identity/users</c> and
/// <c>POST /api/identity/clients</c>, guarded by the server API key like the rest of <c>/api</c>.
/// </summary>
internal static class IdentityAdminApi
{
    public static void MapIdentityAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/identity").AddEndpointFilter(async (context, next) =>
        {
            var key = context.HttpContext.RequestServices.GetRequiredService<IOptions<SwitchboardOptions>>().Value.Api.Key;
            return Switchboard.Auth.ApiKey.Matches(context.HttpContext.Request, key) ? await next(context).ConfigureAwait(false) : Results.Unauthorized();
        });
        api.RequireRateLimiting(Switchboard.Auth.RateLimitPolicies.Api);
        api.MapPost("/users", CreateUserAsync).ExcludeFromDescription();
        api.MapPost("/clients", CreateClientAsync).ExcludeFromDescription();
    }

    private static async Task<IResult> CreateUserAsync(HttpContext http, UserManager<IdentityUser> users)
    {
        var request = await ReadAsync(http, IdentityJsonContext.Default.CreateUserRequest).ConfigureAwait(false);
        if (request is null || string.IsNullOrWhiteSpace(request.Username) || string.IsNullOrEmpty(request.Password))
        {
            return Problem("username and password are required");
        }
        var user = new IdentityUser(request.Username.Trim()) { Email = request.Email };
        var created = await users.CreateAsync(user, request.Password).ConfigureAwait(false);
        if (!created.Succeeded)
        {
            return Problem(string.Join(" ", created.Errors.Select(e => e.Description)));
        }
        return Results.Json(new CreatedUser(user.Id, user.UserName!), IdentityJsonContext.Default.CreatedUser, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> CreateClientAsync(HttpContext http, IOpenIddictApplicationManager applications)
    {
        var request = await ReadAsync(http, IdentityJsonContext.Default.CreateClientRequest).ConfigureAwait(false);
        if (request is null || string.IsNullOrWhiteSpace(request.ClientId))
        {
            return Problem("client_id is required");
        }
        if (await applications.FindByClientIdAsync(request.ClientId, http.RequestAborted).ConfigureAwait(false) is not null)
        {
            return Results.Conflict();
        }
        OpenIddictApplicationDescriptor descriptor;
        string? secret = null;
        if (string.Equals(request.Type, "public", StringComparison.OrdinalIgnoreCase))
        {
            if (request.RedirectUris is not { Count: > 0 } || request.RedirectUris.Any(u => !Uri.TryCreate(u, UriKind.Absolute, out _)))
            {
                return Problem("a public client needs absolute redirect_uris");
            }
            descriptor = IdentityStartup.PublicClient(request.ClientId, request.DisplayName, request.RedirectUris);
        }
        else if (request.Type is null || string.Equals(request.Type, "confidential", StringComparison.OrdinalIgnoreCase))
        {
            secret = string.IsNullOrEmpty(request.ClientSecret)
                ? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))
                : request.ClientSecret;
            descriptor = IdentityStartup.ConfidentialClient(request.ClientId, secret, request.DisplayName);
        }
        else
        {
            return Problem("type must be confidential or public");
        }
        await applications.CreateAsync(descriptor, http.RequestAborted).ConfigureAwait(false);
        // The secret is stored hashed: this answer is the only time it is shown.
        return Results.Json(new CreatedClient(request.ClientId, secret), IdentityJsonContext.Default.CreatedClient, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<T?> ReadAsync<T>(HttpContext http, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return await http.Request.ReadFromJsonAsync(type, http.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static IResult Problem(string detail) => Results.Json(new ApiError(detail), IdentityJsonContext.Default.ApiError, statusCode: StatusCodes.Status400BadRequest);

}
