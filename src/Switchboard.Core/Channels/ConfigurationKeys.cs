using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Switchboard.Channels;

/// <summary>
/// Finds keys under the <c>Switchboard</c> section that name no option (a typo such as
/// <c>HistorySise</c>), each reported with its full path, so start-up fails naming the bad key.
/// </summary>
internal static class ConfigurationKeys
{
    public static List<string> FindUnknown(IConfigurationSection section)
    {
        var errors = new List<string>();
        Check(section, typeof(SwitchboardOptions), errors);
        return errors;
    }

    private static void Check(IConfigurationSection section, Type type, List<string> errors)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
            {
                errors.Add($"{child.Path}: unknown option (known here: {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))}).");
                continue;
            }
            var propertyType = property.PropertyType;
            if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                var valueType = propertyType.GetGenericArguments()[1];
                foreach (var entry in child.GetChildren())
                {
                    Check(entry, valueType, errors);
                }
            }
            else if (propertyType.IsClass && propertyType != typeof(string) && !typeof(System.Collections.IEnumerable).IsAssignableFrom(propertyType))
            {
                Check(child, propertyType, errors);
            }
        }
    }
}
